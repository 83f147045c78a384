"""Settings: one frozen object, built once from defaults, a TOML file, the environment
and command-line overrides (in that order of precedence, last wins), then passed explicitly.

Nothing else in Syndicate reads ``os.environ``. Every setting ``name`` can be given as the
environment variable ``SYNDICATE_<NAME>``; lists are comma-separated there.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .tags import is_language_tag

ENV_PREFIX = "SYNDICATE_"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of a Syndicate deployment; see ``deploy/syndicate.example.toml``."""

    content_dir: Path = Path("content")
    """Answers, one Markdown file per answer under ``<condition>/<slug>.md``."""
    locales_dir: Path = Path("locales")
    """gettext catalogs: ``<locale>/LC_MESSAGES/syndicate.po`` and ``syndicate.pot``."""
    out_dir: Path = Path("public")
    """The publication tree written by ``build`` and ``sync``."""
    state_dir: Path = Path("state")
    """Local state (the default SQLite database lives here)."""
    database_url: str = ""
    """SQLAlchemy URL of the state store; empty means ``sqlite:///<state_dir>/syndicate.db``."""
    base_url: str = ""
    """Public URL under which the publication tree and the API are reachable; empty means
    ``http://<host>:<port>`` (loopback for a wildcard host), following those settings."""
    publisher: str = "DiseaseMaps"
    """Name of the publisher, used for attribution in every item."""
    source_language: str = "en"
    """Language the answers are written in (BCP 47)."""
    languages: tuple[str, ...] = ()
    """Target languages to publish (BCP 47); empty means every catalog in ``locales_dir``."""
    require_translation_review: bool = True
    """A translation whose source carries a dose publishes only with a recorded medical
    review of the answer's translation (``# medical-review:``, see docs/translators.md)."""
    feed_size: int = 50
    """Entries in a current feed document; older entries go to RFC 5005 archives."""
    tombstone_days: int = 90
    """Days a withdrawn answer stays in its feeds as a deletion notice (RFC 6721 tombstone)."""
    review_notice_days: int = 30
    """Days before an answer's review is due that ``answer.review_due`` is sent."""
    webhook_allow_networks: tuple[str, ...] = ()
    """Networks webhooks may target although not globally routable (e.g. ``127.0.0.0/8``)."""
    webhook_timeout: float = 15.0
    """Seconds a webhook receiver has to answer."""
    delivery_concurrency: int = 100
    """Webhook requests in flight at once in one delivering process, over all subscribers."""
    subscriber_concurrency: int = 4
    """Webhook requests in flight at once to one subscriber from one delivering process
    (with several workers, a subscriber may receive up to this many from each)."""
    disable_after_days: float = 5.0
    """A subscriber failing for this many days is disabled."""
    delivery_lease: float = 60.0
    """Seconds a worker holds a claimed delivery; a killed worker's claims expire after it."""
    retry_schedule: str = ""
    """Seconds to wait before each webhook attempt, comma-separated (the first is the first
    attempt, normally ``0``); after the last one a failing delivery is dead. Empty means the
    built-in schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)."""
    sync_interval: float = 300.0
    """Seconds between two runs of the ``sync`` job."""
    deliver_interval: float = 5.0
    """Seconds between two runs of the ``deliver`` job."""
    report_interval: float = 3600.0
    """Seconds between two runs of the ``report`` job."""
    host: str = "127.0.0.1"
    """Address the HTTP server listens on."""
    port: int = 8080
    """Port the HTTP server listens on."""
    log_format: str = "json"
    """``json`` (one object per line) or ``text``."""
    log_level: str = "info"
    """Lowest level logged: ``debug``, ``info``, ``warning`` or ``error`` (idle job runs
    log at ``debug``)."""
    api_rate_limit: float = 10.0
    """API requests per second each partner token may make on average (token bucket)."""
    api_rate_burst: int = 60
    """API requests a partner token may make at once before being limited."""
    api_max_body: int = 65536
    """Largest API or WebSub request body accepted, in bytes (413 beyond)."""
    websub_lease_seconds: int = 864000
    """WebSub lease granted when a subscriber asks for none (10 days)."""
    websub_max_lease_seconds: int = 2592000
    """Longest WebSub lease granted (30 days); longer requests are shortened."""
    leader_lease: float = 15.0
    """Seconds within which a standby ``syndicate run`` takes over the scheduler after the
    leader dies; the leader renews its lease every quarter of it."""
    job_history: int = 200
    """Runs kept per job in the run history (older ones are pruned)."""
    shutdown_timeout: float = 30.0
    """Seconds a stopping process waits for in-flight deliveries and jobs before giving up."""
    dns_timeout: float = 5.0
    """Seconds a webhook or WebSub callback host name has to resolve (slower names are
    refused for that attempt)."""
    websub_rate_limit: float = 1.0
    """WebSub hub requests per second each client address, and each callback host, may make
    on average (429 with Retry-After beyond)."""
    websub_rate_burst: int = 20
    """WebSub hub requests each client address, and each callback host, may make at once
    before being limited."""
    websub_verify_concurrency: int = 8
    """WebSub verifications of intent in flight at once; more wait in a queue."""
    websub_verify_queue: int = 256
    """WebSub verifications waiting at most; beyond, the hub answers 503 with
    Retry-After."""
    websub_max_per_host: int = 100
    """WebSub subscriptions at most per callback host (403 beyond)."""
    websub_max_subscriptions: int = 10000
    """WebSub subscriptions at most in total (403 beyond)."""
    websub_delivery_concurrency: int = 16
    """WebSub content distributions in flight at once in one delivering process, in a lane
    of their own: partner webhooks never wait behind them."""
    max_header_bytes: int = 16384
    """Largest request head (request line and headers) the built-in HTTP server reads, in
    bytes (431 beyond)."""
    secrets_key: str = ""
    """Fernet keys (comma-separated, newest first) that encrypt webhook and WebSub secrets
    in the database; empty means stored in clear (said once at start)."""
    secrets_key_file: str = ""
    """A file holding the Fernet keys instead of ``secrets_key`` (one per line, newest
    first)."""
    review_future_days: int = 2
    """How many days in the future an answer's ``reviewed`` or ``updated`` date may be
    (clock skew); further is refused."""

    def __post_init__(self) -> None:
        if not self.base_url:
            object.__setattr__(self, "base_url", local_base_url(self.host, self.port))

    @property
    def retry_delays(self) -> tuple[float, ...] | None:
        """``retry_schedule`` parsed; ``None`` when it is empty (the built-in schedule)."""
        if not self.retry_schedule.strip():
            return None
        return tuple(float(part) for part in self.retry_schedule.split(","))

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The Fernet keys that encrypt secrets at rest, newest first: ``secrets_key``
        (comma-separated), else the lines of ``secrets_key_file`` (``#`` comments)."""
        text = self.secrets_key
        if not text.strip() and self.secrets_key_file:
            try:
                text = Path(self.secrets_key_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"setting secrets_key_file: cannot read: {exc.strerror}",
                                  name="secrets_key_file") from exc
        lines = (line.split("#", 1)[0].strip() for line in text.replace(",", "\n").splitlines())
        return tuple(line for line in lines if line)

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the state store, with the embedded default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'syndicate.db'}"


def local_base_url(host: str, port: int) -> str:
    """The URL of a server listening on ``host:port`` as seen from this machine."""
    if host in {"", "0.0.0.0", "::"}:
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def listen_on(settings: Settings, host: str | None, port: int | None) -> Settings:
    """``settings`` with another listening address; a ``base_url`` that followed the old
    address follows the new one (a ``base_url`` set explicitly stays)."""
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    follows = settings.base_url == local_base_url(settings.host, settings.port)
    return dataclasses.replace(
        settings, host=host, port=port,
        base_url=local_base_url(host, port) if follows else settings.base_url)


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}
_HINTS = typing.get_type_hints(Settings)


def _coerce(name: str, value: Any, *, from_env: bool) -> Any:
    hint = _HINTS[name]
    try:
        if hint is Path:
            return Path(str(value))
        if hint is bool:
            if isinstance(value, str):
                return value.strip().lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if hint is int:
            if isinstance(value, bool):
                raise ValueError("a number is expected")
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError("a number is expected")
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                raise ValueError("a string is expected")
            return value
        origin = typing.get_origin(hint)
        if origin is tuple or origin is types.GenericAlias:
            if isinstance(value, str):
                items = [part.strip() for part in value.split(",")] if from_env else [value]
                return tuple(item for item in items if item)
            if isinstance(value, list | tuple):
                return tuple(str(item) for item in value)
            raise ValueError("a list is expected")
    except ValueError as exc:
        raise ConfigError(f"setting {name}: {exc}", name=name) from exc
    raise ConfigError(f"setting {name}: unsupported type", name=name)  # pragma: no cover


def _validate_logging(settings: Settings) -> None:
    if settings.log_format not in {"json", "text"}:
        raise ConfigError("setting log_format: must be json or text", name="log_format")
    if settings.log_level not in {"debug", "info", "warning", "error"}:
        raise ConfigError("setting log_level: must be debug, info, warning or error",
                          name="log_level")


def _validate(settings: Settings) -> Settings:
    # Language tags name folders (locales/<tag>/, public/<tag>/) and URL paths: anything but
    # letters, digits and inner separators could leave its folder.
    for name, tags in (("source_language", (settings.source_language,)),
                       ("languages", settings.languages)):
        for tag in tags:
            if not is_language_tag(tag):
                raise ConfigError(
                    f"setting {name}: {tag!r} is not a language tag (e.g. es, pt-BR, zh-Hans)",
                    name=name,
                )
    for network in settings.webhook_allow_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(
                f"setting webhook_allow_networks: {network!r} is not a network",
                name="webhook_allow_networks",
            ) from exc
    if settings.delivery_lease <= settings.webhook_timeout:
        raise ConfigError(
            "setting delivery_lease: must be longer than webhook_timeout", name="delivery_lease"
        )
    try:
        delays = settings.retry_delays
    except ValueError as exc:
        raise ConfigError(
            "setting retry_schedule: comma-separated seconds are expected (e.g. 0,5,300)",
            name="retry_schedule",
        ) from exc
    if delays is not None and any(not 0 <= delay < float("inf") for delay in delays):
        raise ConfigError(
            "setting retry_schedule: every delay must be a finite number of seconds >= 0",
            name="retry_schedule",
        )
    for name, least in (("feed_size", 1), ("tombstone_days", 0), ("review_notice_days", 0),
                        ("job_history", 1)):
        if getattr(settings, name) < least:
            raise ConfigError(f"setting {name}: must be at least {least}", name=name)
    if settings.leader_lease < 1:
        raise ConfigError("setting leader_lease: must be at least 1 second", name="leader_lease")
    for name in ("sync_interval", "deliver_interval", "report_interval", "shutdown_timeout"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting {name}: must be positive", name=name)
    _validate_logging(settings)
    if settings.api_rate_limit <= 0 or settings.api_rate_burst < 1:
        raise ConfigError(
            "setting api_rate_limit/api_rate_burst: must be positive", name="api_rate_limit"
        )
    if settings.api_max_body < 1024:
        raise ConfigError("setting api_max_body: must be at least 1024", name="api_max_body")
    _validate_bounds(settings)
    if not settings.base_url.startswith(("http://", "https://")):
        raise ConfigError("setting base_url: must be an http(s) URL", name="base_url")
    return settings


def _validate_bounds(settings: Settings) -> None:
    """The hub's and the server's bounds: a zero or negative one would disable them."""
    if not 0 < settings.websub_lease_seconds <= settings.websub_max_lease_seconds:
        raise ConfigError(
            "setting websub_lease_seconds: must be positive and at most websub_max_lease_seconds",
            name="websub_lease_seconds",
        )
    for name in ("websub_rate_limit", "websub_rate_burst", "websub_verify_concurrency",
                 "websub_verify_queue", "websub_max_per_host", "websub_max_subscriptions",
                 "websub_delivery_concurrency", "dns_timeout"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting {name}: must be positive", name=name)
    if settings.max_header_bytes < 1024:
        raise ConfigError("setting max_header_bytes: must be at least 1024",
                          name="max_header_bytes")
    if settings.review_future_days < 0:
        raise ConfigError("setting review_future_days: must not be negative",
                          name="review_future_days")


def load_settings(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, ``config_file`` (TOML), ``environ`` and ``overrides``.

    ``overrides`` values that are ``None`` are ignored, so command-line options that were not
    given do not mask the file or the environment.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{config_file}: cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: invalid TOML: {exc}") from exc
        section = data.get("syndicate", data)
        for key, value in section.items():
            if key not in FIELDS:
                raise ConfigError(f"{config_file}: unknown setting {key!r}", name=key)
            values[key] = _coerce(key, value, from_env=False)
    for key, value in (environ or {}).items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in FIELDS:
            values[name] = _coerce(name, value, from_env=True)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, from_env=False)
    return _validate(Settings(**values))
