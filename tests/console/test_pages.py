"""What each console page shows and what each form does, without JavaScript: every action
posts a form and is answered by a redirect (303) to a page that shows the result."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import sqlalchemy as sa
from click.testing import CliRunner

from syndicate import store
from syndicate.cli import cli
from syndicate.console import charts
from syndicate.webhooks import subscribers as subs
from tests.console.conftest import FUZZY_TRANSLATION, Console, settled
from tests.console.test_security import sign_in


def _post(client: httpx.Client, path: str, csrf: str, **data: str) -> httpx.Response:
    response = client.post(path, data={"csrf": csrf, **data})
    assert response.status_code == 303, (path, response.status_code, response.text[:300])
    return client.get(response.headers["location"])


def _kill(engine: sa.engine.Engine, subscriber_id: str) -> int:
    """Make one delivery of a subscriber dead, as after its last failed attempt; its id."""
    d = store.deliveries.c
    with engine.begin() as conn:
        delivery_id = conn.execute(sa.select(d.id).where(d.subscriber_id == subscriber_id)
                                   .order_by(d.id)).scalars().first()
        conn.execute(store.deliveries.update().where(d.id == delivery_id).values(
            state="dead", attempts=8, last_status=500, last_error="HTTP 500"))
        conn.execute(store.attempts.insert().values(
            delivery_id=delivery_id, number=8, attempted_at=dt.datetime.now(dt.UTC),
            status_code=500, duration_ms=12.5, error="HTTP 500"))
    return int(delivery_id)


def test_a_partner_manages_a_subscription_with_forms(client: httpx.Client,
                                                     console_env: Console) -> None:
    engine = console_env.engine
    csrf = sign_in(client, console_env.token("partner-a"))
    home = client.get("/console/partner/").text
    for offered in ('value="de"', 'value="en"', 'value="lupus"', 'value="answer.reviewed"'):
        assert offered in home, offered
    client.post("/console/partner/subscriptions", data={
        "csrf": csrf, "url": "http://127.0.0.1:9/hook", "languages": "de",
        "event_types": "answer.reviewed"})
    found = subs.list_owned(engine, "partner-a")[0]
    here = f"/console/partner/subscriptions/{found.id}"
    page = _post(client, f"{here}/edit", csrf, languages="en", conditions="lupus")
    assert "Filters saved." in page.text
    changed = subs.get(engine, found.id)
    assert changed is not None and changed.languages == ("en",)
    assert changed.conditions == ("lupus",) and changed.event_types == ()
    assert "paused" in _post(client, f"{here}/pause", csrf).text
    assert subs.get(engine, found.id).status == "paused"  # type: ignore[union-attr]
    _post(client, f"{here}/resume", csrf)
    # never verified: resuming queues a new verification instead of activating it
    assert subs.get(engine, found.id).status == "pending"  # type: ignore[union-attr]
    page = _post(client, f"{here}/test", csrf)
    assert "Test event queued" in page.text and "endpoint.test" in page.text
    dead = _kill(engine, found.id)
    page = client.get(here, params={"status": "failed"})
    assert "HTTP 500" in page.text and f'name="delivery" value="{dead}"' in page.text
    assert "HTTP 500" not in client.get(here, params={"status": "ok"}).text
    assert "Delivery queued again." in _post(client, f"{here}/retry", csrf,
                                             delivery=str(dead)).text
    with engine.connect() as conn:
        state = conn.execute(sa.select(store.deliveries.c.state)
                             .where(store.deliveries.c.id == dead)).scalar_one()
    assert state == "pending"
    assert "Nothing to retry" in _post(client, f"{here}/retry", csrf, delivery=str(dead)).text
    page = _post(client, f"{here}/replay", csrf, since=console_env.clock().date().isoformat())
    assert "queued again" in page.text
    bad = client.post(f"{here}/replay", data={"csrf": csrf, "since": "yesterday"})
    assert bad.status_code == 422 and "is not a date" in bad.text
    assert "Subscription deleted." in _post(client, f"{here}/delete", csrf).text
    assert subs.get(engine, found.id) is None


def test_attempts_are_paginated(client: httpx.Client, console_env: Console) -> None:
    engine = console_env.engine
    found = subs.add(engine, "http://127.0.0.1:9/hook", now=console_env.clock(),
                     allow_networks=["127.0.0.0/8"], owner="partner-a")
    d = store.deliveries.c
    with engine.begin() as conn:
        delivery_id = conn.execute(sa.select(d.id).where(d.subscriber_id == found.id)
                                   ).scalar_one()
        conn.execute(store.attempts.insert(), [
            {"delivery_id": delivery_id, "number": n, "status_code": 500, "duration_ms": 1.0,
             "attempted_at": console_env.clock() + dt.timedelta(seconds=n),
             "error": f"attempt-{n:03d}"} for n in range(1, 121)])
    sign_in(client, console_env.token("partner-a"))
    first = client.get(f"/console/partner/subscriptions/{found.id}").text
    assert "attempt-120" in first and "attempt-071" in first and "attempt-070" not in first
    older = re.search(r'href="\?status=all&amp;before=(\d+)"', first)
    assert older
    second = client.get(f"/console/partner/subscriptions/{found.id}",
                        params={"before": older.group(1)}).text
    assert "attempt-070" in second and "attempt-071" not in second


def test_the_event_catalog_shows_examples_snippets_and_feeds(client: httpx.Client,
                                                             console_env: Console) -> None:
    sign_in(client, console_env.token("partner-a"))
    page = client.get("/console/partner/events").text
    assert "answer.published" in page and "&#34;type&#34;: &#34;answer.published&#34;" in page
    assert "from standardwebhooks.webhooks import Webhook" in page
    assert 'import { Webhook } from &#34;standardwebhooks&#34;' in page
    assert "https://answers.example/de/feed.atom" in page


def test_an_operator_steers_jobs_and_retries_dead_letters(client: httpx.Client,
                                                          console_env: Console) -> None:
    engine = console_env.engine
    csrf = sign_in(client, console_env.credential("olga", "operator"))
    home = client.get("/console/operator/").text
    assert all(name in home for name in ("sync", "deliver", "report"))
    assert home.count("<svg") == 3 and "Deliveries per minute" in home
    assert "due: no sample; pending: no sample" in home and "without a sample" in home
    page = _post(client, "/console/operator/jobs/report/run", csrf)
    assert "Run started" in page.text
    for _ in range(100):
        page = client.get("/console/operator/jobs/report")
        if re.search(r"manual</td>\s*<td class=\"outcome-ok\">ok", page.text):
            break
    else:
        raise AssertionError(page.text)
    home = client.get("/console/operator/").text
    took = re.search(r'jobs/report">report</a></td>(?:\s*<td>[^<]*</td>){5}\s*<td>([0-9.]+) s</td>',
                     home)
    assert took, home
    assert client.post("/console/operator/jobs/nope/run", data={"csrf": csrf}).status_code == 404
    # no scheduler has run over this store: pausing says so, clearly (the browser test pauses
    # a scheduled job)
    early = client.post("/console/operator/jobs/report/pause", data={"csrf": csrf})
    assert early.status_code == 409 and "not scheduled yet" in early.text
    broken = subs.add(engine, "http://127.0.0.1:9/x", now=console_env.clock(),
                      allow_networks=["127.0.0.0/8"], owner="partner-b")
    dead = _kill(engine, broken.id)
    listed = client.get("/console/operator/subscribers").text
    assert broken.id in listed and "partner-b" in listed and f"Retry delivery {dead}" in listed
    assert "queued again" in _post(client, f"/console/operator/deliveries/{dead}/retry",
                                   csrf).text


def test_content_problems_name_file_and_line(client: httpx.Client,
                                             console_env: Console) -> None:
    bad = console_env.settings.content_dir / "lupus" / "broken.md"
    bad.write_text("---\nid: broken-fixture\ncondition: Lupus\n---\nfixture text\n",
                   encoding="utf-8")
    sign_in(client, console_env.credential("olga", "operator"))
    page = settled(client, "/console/operator/content")
    assert re.search(r"lupus/broken\.md:\d+", page), page


def test_the_translator_sees_progress_todo_and_stale(client: httpx.Client,
                                                     console_env: Console) -> None:
    engine = console_env.engine
    po, line, msgid = console_env.fuzzy
    subs.add(engine, "http://127.0.0.1:9/ar", now=console_env.clock(),
             allow_networks=["127.0.0.0/8"], languages=["ar"], owner="p")
    with engine.begin() as conn:
        conn.execute(store.subscribers.update().values(status="active"))
        r = store.renditions.c
        conn.execute(store.renditions.update().where(r.language == "de").values(
            stale=True, source_reviewed=console_env.clock().date() - dt.timedelta(days=12)))
    sign_in(client, console_env.credential("tom", "translator"))
    home = settled(client, "/console/translate/")
    assert home.index(">ar</a>") < home.index(">de</a>")  # ar has a reader, de none
    assert "1 fuzzy" in home and 'role="img"' in home
    page = client.get("/console/translate/ar").text
    where = po.relative_to(console_env.settings.locales_dir.parent).as_posix()
    assert where == "locales/ar/LC_MESSAGES/syndicate.po"
    assert f"{where}:{line}" in page and "fuzzy" in page and FUZZY_TRANSLATION in page
    # the to-do lists every message the progress counts as not done, interface strings too
    progress = re.search(r"(\d+) fuzzy, (\d+) untranslated, (\d+) failing a check", home)
    assert progress and f"messages to do: {sum(map(int, progress.groups()))}." in page
    assert 'lang="ar" dir="rtl"' in page
    assert msgid.split()[0] in page
    stale = client.get("/console/translate/de").text
    assert "12 days" in stale
    assert client.get("/console/translate/xx").status_code == 404


def test_the_chart_counts_attempts_per_minute(console_env: Console) -> None:
    engine = console_env.engine
    now = console_env.clock()
    found = subs.add(engine, "http://127.0.0.1:9/hook", now=now,
                     allow_networks=["127.0.0.0/8"])
    with engine.begin() as conn:
        delivery_id = conn.execute(sa.select(store.deliveries.c.id).where(
            store.deliveries.c.subscriber_id == found.id)).scalar_one()
        conn.execute(store.attempts.insert(), [
            {"delivery_id": delivery_id, "number": n, "duration_ms": 1.0,
             "status_code": code, "attempted_at": now - dt.timedelta(minutes=minutes)}
            for n, (code, minutes) in enumerate([(200, 5), (200, 5), (500, 5), (None, 30),
                                                 (200, 60 * 25)], start=1)])
    day = charts.last_day(engine, now=now)
    assert sum(day.sent) == 2 and sum(day.failed) == 2
    assert day.sent[-6] == 2 and day.failed[-6] == 1 and day.failed[-31] == 1
    assert day.due == [None] * charts.MINUTES  # nothing sampled the queue: no line, no zeros


def test_the_queue_chart_shows_the_samples_with_their_gaps(console_env: Console) -> None:
    """The queue depth is what the deliver job sampled: a delivery that died leaves the
    queue when it dies (rebuilding the past from the rows left would count it as waiting
    all day), and minutes nobody sampled are gaps, not zeros."""
    engine = console_env.engine
    now = console_env.clock()
    subs.add(engine, "http://127.0.0.1:9/hook", now=now, allow_networks=["127.0.0.0/8"])
    with engine.begin() as conn:  # the verification, due for an hour
        conn.execute(sa.update(store.deliveries).values(due_at=now - dt.timedelta(hours=1)))
    store.record_queue_sample(engine, now=now - dt.timedelta(minutes=30))
    store.record_queue_sample(engine, now=now - dt.timedelta(minutes=29))
    with engine.begin() as conn:
        conn.execute(sa.update(store.deliveries).values(state="dead"))
    store.record_queue_sample(engine, now=now)
    day = charts.last_day(engine, now=now)
    assert day.due[-31] == day.due[-30] == 1 and day.pending[-31] == 1
    assert day.due[-1] == 0 and day.pending[-1] == 0
    assert day.due[-29:-1] == [None] * 28 and day.due[:-31] == [None] * (charts.MINUTES - 31)
    picture = charts.line_chart("Queue depth", day.start, [("due", "#000", day.due)],
                                "deliveries", total=False)
    assert picture.count("<polyline") == 2
    assert "due: now 0, peak 1 deliveries (1437 minutes without a sample)" in picture


def test_console_credentials_from_the_command_line(console_env: Console) -> None:
    runner = CliRunner()
    env = {"SYNDICATE_DATABASE_URL": console_env.settings.database_url}
    made = runner.invoke(cli, ["console", "credential", "create", "lena", "--role",
                               "translator", "--json"], env=env)
    assert made.exit_code == 0, made.output
    listed = runner.invoke(cli, ["console", "credential", "list"], env=env)
    assert "lena" in listed.output and "translator" in listed.output
    assert "syc_" not in listed.output
    refused = runner.invoke(cli, ["console", "credential", "create", "Bad Name"], env=env)
    assert refused.exit_code == 1 and "is not a name" in refused.output
    assert "Traceback" not in refused.output


def test_the_chart_keeps_settled_minutes_and_reads_only_new_ones(console_env: Console) -> None:
    engine = console_env.engine
    now = console_env.clock()
    found = subs.add(engine, "http://127.0.0.1:9/hook", now=now, allow_networks=["127.0.0.0/8"])
    with engine.begin() as conn:
        delivery_id = conn.execute(sa.select(store.deliveries.c.id).where(
            store.deliveries.c.subscriber_id == found.id)).scalar_one()

    def attempt(minutes_ago: int) -> None:
        with engine.begin() as conn:
            conn.execute(store.attempts.insert().values(
                delivery_id=delivery_id, number=1, duration_ms=1.0, status_code=200,
                attempted_at=now - dt.timedelta(minutes=minutes_ago)))

    attempt(30)
    assert sum(charts.last_day(engine, now=now).sent) == 1
    attempt(1)  # a minute not settled yet: read again on every page
    later = now + dt.timedelta(seconds=30)
    first = charts.last_day(engine, now=later)
    assert sum(first.sent) == 2 and len([n for n in first.sent if n]) == 2
    attempt(0)
    assert sum(charts.last_day(engine, now=later).sent) == 3
    # a day later the old minutes have left the window
    assert sum(charts.last_day(engine, now=now + dt.timedelta(hours=24, minutes=10)).sent) == 0
