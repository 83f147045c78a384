"""Settings: defaults, TOML file, SYNDICATE_* environment and overrides, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.config import Settings, load_settings
from syndicate.errors import ConfigError


def test_embedded_defaults_need_no_setup() -> None:
    settings = load_settings()
    assert settings.content_dir == Path("content")
    assert settings.database == "sqlite:///state/syndicate.db"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "syndicate.toml"
    config.write_text('[syndicate]\nfeed_size = 10\npublisher = "File"\nlanguages = ["es"]\n')
    settings = load_settings(
        config,
        environ={"SYNDICATE_PUBLISHER": "Env", "SYNDICATE_LANGUAGES": "es, fr",
                 "SYNDICATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8", "HOME": "/root"},
        overrides={"out_dir": tmp_path / "out", "content_dir": None},
    )
    assert settings.feed_size == 10
    assert settings.publisher == "Env"
    assert settings.languages == ("es", "fr")
    assert settings.webhook_allow_networks == ("127.0.0.0/8",)
    assert settings.out_dir == tmp_path / "out"
    assert settings.content_dir == Path("content")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SYNDICATE_FEED_SIZE": "lots"}, "feed_size"),
        ({"SYNDICATE_FEED_SIZE": "0"}, "feed_size"),
        ({"SYNDICATE_WEBHOOK_ALLOW_NETWORKS": "not-a-net"}, "webhook_allow_networks"),
        ({"SYNDICATE_BASE_URL": "ftp://x"}, "base_url"),
        ({"SYNDICATE_RETRY_SCHEDULE": "0,soon"}, "retry_schedule"),
        ({"SYNDICATE_RETRY_SCHEDULE": "0,-1"}, "retry_schedule"),
        ({"SYNDICATE_RETRY_SCHEDULE": "0,inf"}, "retry_schedule"),
    ],
)
def test_bad_values_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("feed_sise = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'feed_sise'"):
        load_settings(config)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("feed_size = = 3\n")
    with pytest.raises(ConfigError, match=r"s\.toml: invalid TOML"):
        load_settings(config)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.feed_size = 3  # type: ignore[misc]


@pytest.mark.parametrize("tag", ["../x", "..", "/etc", "de\x00", "de\\..\\x", "de\n", "\u2024\u2024",
                                 "de/../../x", ""])
@pytest.mark.parametrize("name", ["source_language", "languages"])
def test_language_settings_that_could_leave_their_folder_are_refused(name: str, tag: str) -> None:
    """Language tags become folders (locales/<tag>, public/<tag>) and URL paths: a tag
    that is not letters and digits in subtags is a ConfigError naming the setting."""
    value: object = [tag] if name == "languages" else tag
    if name == "languages" and not tag:
        value = ["de", " "]
    with pytest.raises(ConfigError, match="is not a language tag") as caught:
        load_settings(overrides={name: value})
    assert caught.value.name == name


def test_language_list_from_the_environment_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"'\.\./x' is not a language tag"):
        load_settings(environ={"SYNDICATE_LANGUAGES": "es, ../x"})
    assert load_settings(environ={"SYNDICATE_LANGUAGES": "es, zh-Hans, pt_BR"}).languages == (
        "es", "zh-Hans", "pt_BR")


def test_base_url_follows_host_and_port_unless_set() -> None:
    """An unset base_url is the server's own address, and moves with --host/--port; a set
    one stays."""
    from syndicate.config import listen_on

    assert load_settings(environ={"SYNDICATE_PORT": "17080"}).base_url == "http://127.0.0.1:17080"
    wildcard = load_settings(environ={"SYNDICATE_HOST": "0.0.0.0"})
    assert wildcard.base_url == "http://127.0.0.1:8080"
    assert load_settings(environ={"SYNDICATE_HOST": "::1"}).base_url == "http://[::1]:8080"
    moved = listen_on(load_settings(), None, 9090)
    assert (moved.port, moved.base_url) == (9090, "http://127.0.0.1:9090")
    fixed = load_settings(environ={"SYNDICATE_BASE_URL": "https://answers.example"})
    assert listen_on(fixed, "0.0.0.0", 9090).base_url == "https://answers.example"


def test_log_level_is_checked() -> None:
    assert load_settings(environ={"SYNDICATE_LOG_LEVEL": "debug"}).log_level == "debug"
    with pytest.raises(ConfigError, match="log_level"):
        load_settings(environ={"SYNDICATE_LOG_LEVEL": "chatty"})
