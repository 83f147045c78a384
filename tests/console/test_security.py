"""Console security: sign-in on every page, roles apart, a partner sees only its own,
cookies, CSRF, the Content-Security-Policy, sign-out, rate-limited sign-in, secrets once."""

from __future__ import annotations

import re

import httpx
import pytest
import sqlalchemy as sa

from syndicate import store
from syndicate.http import RateLimiter
from syndicate.webhooks import subscribers as subs
from tests.console.conftest import Console, serve

PAGES = [
    "/console/partner/", "/console/partner/events",
    "/console/partner/subscriptions/sub_0123456789abcdef",
    "/console/operator/", "/console/operator/jobs/sync", "/console/operator/subscribers",
    "/console/operator/content", "/console/translate/", "/console/translate/ar",
]
POSTS = [
    "/console/partner/subscriptions", "/console/partner/subscriptions/sub_0123456789abcdef/pause",
    "/console/operator/jobs/sync/run", "/console/operator/deliveries/1/retry",
]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: httpx.Client, credential: str) -> str:
    """Sign in; the session's CSRF token."""
    page = client.get("/console/sign-in")
    response = client.post("/console/sign-in", data={
        "csrf": csrf_of(page.text), "credential": credential})
    assert response.status_code == 303, response.text
    return csrf_of(client.get(response.headers["location"]).text)


def test_every_page_and_action_requires_sign_in(client: httpx.Client) -> None:
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/console/sign-in", path
    for path in POSTS:
        response = client.post(path, data={"csrf": "x"})
        assert response.status_code == 303 and response.headers["location"] == "/console/sign-in", path


def test_session_cookie_flags_over_http_and_tls(console_env: Console) -> None:
    token = console_env.token("partner-a")
    # uvicorn takes the scheme from X-Forwarded-Proto sent by a proxy on loopback (nginx).
    for headers, secure in (({}, False), ({"x-forwarded-proto": "https"}, True)):
        with serve(console_env) as c:
            page = c.get("/console/sign-in", headers=headers)
            pre = page.headers["set-cookie"]
            assert ("Secure" in pre) is secure and "HttpOnly" in pre
            c.cookies.clear()  # a client over plain HTTP would not send a Secure cookie back
            response = c.post("/console/sign-in", data={
                "csrf": csrf_of(page.text), "credential": token},
                headers={**headers, "cookie": pre.split(";")[0]})
            cookie = next(v for k, v in response.headers.multi_items()
                          if k == "set-cookie" and v.startswith("syndicate_console="))
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
            assert ("Secure" in cookie) is secure


def test_csp_and_no_inline_script_on_every_page(client: httpx.Client, console_env: Console) -> None:
    for credential, pages in ((console_env.token("partner-a"), PAGES[:2]),
                              (console_env.credential("olga", "operator"), PAGES[3:])):
        sign_in(client, credential)
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            html = response.text
            assert not re.search(r"<script(?![^>]*\ssrc=)", html), path
            assert not re.search(r"\son[a-z]+=", html), path
            assert not re.search(r'\sstyle="', html), path
            assert 'src="http' not in html and 'href="http://' not in html.split("<main")[0]


def test_forms_without_the_csrf_token_change_nothing(client: httpx.Client,
                                                     console_env: Console) -> None:
    sign_in(client, console_env.token("partner-a"))
    for data in ({}, {"csrf": "forged"}):
        response = client.post("/console/partner/subscriptions",
                               data={**data, "url": "http://127.0.0.1:9/hook"})
        assert response.status_code == 400
        assert "reload the page" in response.text
    assert subs.list_owned(console_env.engine, "partner-a") == []
    page = client.get("/console/sign-in")  # the sign-in form too
    assert client.post("/console/sign-in", data={
        "credential": console_env.token("partner-a")}).status_code == 400
    assert page.status_code == 200


def test_a_partner_sees_only_its_own(client: httpx.Client, console_env: Console) -> None:
    engine = console_env.engine
    theirs = subs.add(engine, "http://127.0.0.1:9/b", now=console_env.clock(),
                      allow_networks=["127.0.0.0/8"], owner="partner-b")
    csrf = sign_in(client, console_env.token("partner-a"))
    assert theirs.url not in client.get("/console/partner/").text
    unknown = client.get("/console/partner/subscriptions/sub_ffffffffffffffff")
    guessed = client.get(f"/console/partner/subscriptions/{theirs.id}")
    assert guessed.status_code == unknown.status_code == 404
    assert theirs.url not in guessed.text
    for action in ("pause", "delete", "rotate", "test", "edit", "retry"):
        response = client.post(f"/console/partner/subscriptions/{theirs.id}/{action}",
                               data={"csrf": csrf, "delivery": "1"})
        assert response.status_code == 404, action
    after = subs.get(engine, theirs.id)
    assert after is not None and after.status == theirs.status and after.secret == theirs.secret
    # the operator's pages are not a partner's
    assert client.get("/console/operator/").status_code == 403
    assert client.get("/console/translate/").status_code == 403


def test_roles_are_apart(client: httpx.Client, console_env: Console) -> None:
    sign_in(client, console_env.credential("tom", "translator"))
    assert client.get("/console/translate/").status_code == 200
    for path in ("/console/operator/", "/console/partner/", "/console/operator/subscribers"):
        assert client.get(path).status_code == 403, path
    sign_in(client, console_env.credential("olga", "operator"))
    assert client.get("/console/operator/").status_code == 200
    assert client.get("/console/partner/").status_code == 403


def test_sign_out_ends_the_session(client: httpx.Client, console_env: Console) -> None:
    csrf = sign_in(client, console_env.credential("olga", "operator"))
    cookie = client.cookies.get("syndicate_console")
    assert client.post("/console/sign-out", data={"csrf": csrf}).status_code == 303
    client.cookies.set("syndicate_console", cookie or "", path="/console")
    assert client.get("/console/operator/").status_code == 303
    with console_env.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.console_sessions)
                            ).scalar_one() == 0


def test_revoked_credentials_and_wrong_ones_do_not_sign_in(client: httpx.Client,
                                                            console_env: Console) -> None:
    from syndicate.console import list_credentials, revoke_credential

    text = console_env.credential("olga", "operator")
    sign_in(client, text)
    revoke_credential(console_env.engine, list_credentials(console_env.engine)[0].id,
                      now=console_env.clock())
    assert client.get("/console/operator/").status_code == 303
    page = client.get("/console/sign-in").text
    for wrong in (text, text[:-1] + ("A" if text[-1] != "A" else "B"), "syn_nope", ""):
        response = client.post("/console/sign-in", data={"csrf": csrf_of(page),
                                                         "credential": wrong})
        assert response.status_code == 401
        assert "unknown or revoked" in response.text
        page = response.text


def test_a_revoked_partner_token_ends_its_sessions(client: httpx.Client,
                                                   console_env: Console) -> None:
    from syndicate.http import tokens as api_tokens

    sign_in(client, console_env.token("partner-a"))
    assert client.get("/console/partner/").status_code == 200
    token_id = api_tokens.list_tokens(console_env.engine, partner="partner-a")[0].id
    api_tokens.revoke(console_env.engine, token_id, now=console_env.clock())
    assert client.get("/console/partner/").status_code == 303


def test_sign_in_attempts_are_rate_limited(console_env: Console) -> None:
    with serve(console_env, limiter=RateLimiter(0.01, 3)) as c:
        page = c.get("/console/sign-in")
        codes = [c.post("/console/sign-in", data={"csrf": csrf_of(page.text),
                                                  "credential": "syc_wrong"}).status_code
                 for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        last = c.post("/console/sign-in", data={"csrf": csrf_of(page.text),
                                                "credential": console_env.token("partner-a")})
        assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1


def test_a_secret_is_shown_once(client: httpx.Client, console_env: Console) -> None:
    csrf = sign_in(client, console_env.token("partner-a"))
    created = client.post("/console/partner/subscriptions", data={
        "csrf": csrf, "url": "http://127.0.0.1:9/hook", "languages": "de"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", created.text)
    assert secret
    found = subs.list_owned(console_env.engine, "partner-a")[0]
    assert found.secret == secret.group(0) and found.languages == ("de",)
    for path in ("/console/partner/", f"/console/partner/subscriptions/{found.id}",
                 "/console/partner/events"):
        assert found.secret not in client.get(path).text
    rotated = client.post(f"/console/partner/subscriptions/{found.id}/rotate",
                          data={"csrf": csrf})
    fresh = subs.get(console_env.engine, found.id)
    assert fresh is not None and fresh.secret in rotated.text and fresh.secret != found.secret
    assert fresh.secret not in client.get(f"/console/partner/subscriptions/{found.id}").text


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "ftp://127.0.0.1/x", "not a url"])
def test_a_refused_url_is_a_clear_422(client: httpx.Client, console_env: Console, url: str) -> None:
    csrf = sign_in(client, console_env.token("partner-a"))
    response = client.post("/console/partner/subscriptions", data={"csrf": csrf, "url": url})
    assert response.status_code == 422
    assert 'role="alert"' in response.text and "Traceback" not in response.text
