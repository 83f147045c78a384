"""The state store: migrations on SQLite and PostgreSQL, and the schema-version check."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from syndicate import store
from syndicate.errors import StoreError


def test_migrations_create_exactly_the_declared_schema(engine: sa.engine.Engine) -> None:
    """The migrated database matches the tables the code uses, on every backend."""
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), store.metadata)
    assert differences == []
    assert store.current_revision(engine) == store.head_revision()


def test_upgrade_is_idempotent(engine: sa.engine.Engine) -> None:
    """``syndicate db upgrade`` on an up-to-date database changes nothing."""
    store.upgrade(engine)
    assert store.current_revision(engine) == store.head_revision()


def test_newer_schema_is_refused(database_url: str, engine: sa.engine.Engine) -> None:
    """A database migrated by a later Syndicate is not used by this one."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    with pytest.raises(StoreError, match="newer than this Syndicate"):
        store.open_engine(database_url)


def test_older_schema_is_refused(
    database_url: str, engine: sa.engine.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at an earlier revision must be upgraded first."""
    monkeypatch.setattr(store.engine, "head_revision", lambda: "0002")
    with pytest.raises(StoreError, match=r"older than this Syndicate.*syndicate db upgrade"):
        store.check_schema(engine)


def test_foreign_tables_without_schema_version_are_refused(database_url: str) -> None:
    """A database that has tables but no Syndicate schema is never written to blindly."""
    raw = store.create_engine(database_url)
    with raw.begin() as conn:
        conn.execute(sa.text("CREATE TABLE something_else (x INTEGER)"))
    raw.dispose()
    with pytest.raises(StoreError, match="no Syndicate schema"):
        store.open_engine(database_url)


def test_empty_database_is_created_at_the_current_schema(database_url: str) -> None:
    """The embedded default works out of the box: an empty database is initialized."""
    engine = store.open_engine(database_url)
    assert store.current_revision(engine) == store.head_revision()
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: object) -> None:
    """Several processes share the SQLite file: WAL and a busy timeout make that work."""
    engine = store.open_engine(f"sqlite:///{tmp_path}/s.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_api_migration_downgrades_and_upgrades_again(engine: sa.engine.Engine) -> None:
    """0002_api can be rolled back to 0001 and re-applied, keeping existing rows."""
    from alembic import command

    with engine.begin() as conn:
        conn.execute(store.subscribers.insert().values(
            id="sub_1", url="https://p.example/", languages="[]", conditions="[]",
            event_types="[]", full=False, secret="whsec_x", status="active",
            created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            updated_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), owner="partner-a",
        ))
    with engine.begin() as conn:
        command.downgrade(store.engine._alembic_config(conn), "0001")
    assert store.current_revision(engine) == "0001"
    assert "api_tokens" not in sa.inspect(engine).get_table_names()
    store.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.subscribers)).one()
    assert (row.id, row.kind, row.owner) == ("sub_1", "webhook", None)


def _delivery_rows(engine: sa.engine.Engine, now: dt.datetime,
                   states: list[tuple[str, dt.timedelta]]) -> None:
    """Deliveries in ``states`` (state, due time relative to ``now``) to one subscriber."""
    with engine.begin() as conn:
        conn.execute(store.subscribers.insert(), {
            "id": "s1", "kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "x",
            "status": "active", "languages": "[]", "event_types": "[]", "conditions": "[]",
            "full": True, "created_at": now, "updated_at": now})
        conn.execute(store.events.insert(), [
            {"id": f"e{n}", "type": "answer.published", "payload": "{}", "created_at": now}
            for n in range(len(states))])
        conn.execute(store.deliveries.insert(), [
            {"event_id": f"e{n}", "event_type": "answer.published", "subscriber_id": "s1",
             "full": True, "state": state, "attempts": 0, "due_at": now + due,
             "created_at": now - dt.timedelta(hours=1)}
            for n, (state, due) in enumerate(states)])


def test_queue_samples_one_per_minute_pruned_after_two_days(engine: sa.engine.Engine) -> None:
    """The deliver job's sample of the queue: due and pending counts and the oldest due
    one's wait (dead and delivered ones are not in the queue); one row per minute whoever
    writes it first; samples beyond 48 hours pruned as new ones come."""
    now = dt.datetime(2026, 11, 29, 7, 30, 20, tzinfo=dt.UTC)
    _delivery_rows(engine, now, [
        ("pending", -dt.timedelta(seconds=90)), ("pending", -dt.timedelta(seconds=10)),
        ("pending", dt.timedelta(minutes=5)), ("dead", -dt.timedelta(hours=2)),
        ("delivered", -dt.timedelta(hours=3))])
    old = now - dt.timedelta(hours=48, minutes=2)
    assert store.record_queue_sample(engine, now=old)
    assert store.record_queue_sample(engine, now=now)
    assert not store.record_queue_sample(engine, now=now + dt.timedelta(seconds=30))
    found = store.queue_samples_since(engine, now - dt.timedelta(days=3))
    assert [(s.minute, s.pending, s.due, s.oldest_due_seconds) for s in found] == [
        (now.replace(second=0), 3, 2, 90.0)]
    empty = now + dt.timedelta(minutes=10)
    with engine.begin() as conn:
        conn.execute(sa.update(store.deliveries).values(state="dead"))
    assert store.record_queue_sample(engine, now=empty)
    last = store.queue_samples_since(engine, empty.replace(second=0))
    assert [(s.pending, s.due, s.oldest_due_seconds) for s in last] == [(0, 0, None)]
