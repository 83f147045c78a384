"""Named leases and the scheduler leader election, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time

import sqlalchemy as sa

from syndicate.service import leases

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def test_a_lease_has_one_holder_until_it_expires(engine: sa.engine.Engine) -> None:
    assert leases.acquire(engine, "scheduler", "a", now=T0, ttl=10)
    assert not leases.acquire(engine, "scheduler", "b", now=T0 + dt.timedelta(seconds=5), ttl=10)
    assert leases.acquire(engine, "scheduler", "a", now=T0 + dt.timedelta(seconds=5), ttl=10)
    held = leases.current(engine, "scheduler")
    assert held is not None and held.holder == "a" and held.acquired_at == T0
    assert held.expires_at == T0 + dt.timedelta(seconds=15)  # renewed
    assert leases.acquire(engine, "scheduler", "b", now=T0 + dt.timedelta(seconds=16), ttl=10)
    taken = leases.current(engine, "scheduler")
    assert taken is not None and taken.holder == "b"
    assert not leases.release(engine, "scheduler", "a")
    assert leases.release(engine, "scheduler", "b")
    assert leases.current(engine, "scheduler") is None


class _Campaign:
    def __init__(self, engine: sa.engine.Engine, holder: str, lease: float) -> None:
        self.events: list[str] = []
        self.elector = leases.Elector(
            engine, holder, leader_lease=lease, clock=lambda: dt.datetime.now(dt.UTC),
            on_elected=lambda: self.events.append("elected"),
            on_deposed=lambda: self.events.append("deposed"),
        )

    def die(self) -> None:
        """Stop without stepping down, as a process killed with -9 would."""
        self.elector._stop.set()
        self.elector._thread.join()


def _wait_for(predicate: object, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError("not in time")


def test_one_leader_and_a_standby_takes_over_within_the_lease(engine: sa.engine.Engine) -> None:
    """Of two campaigning processes one leads; when it dies the other leads within
    leader_lease seconds; a clean stop hands over at once."""
    lease = 1.2
    first, second = _Campaign(engine, "first", lease), _Campaign(engine, "second", lease)
    first.elector.start()
    _wait_for(lambda: first.elector.leading, 5)
    second.elector.start()
    time.sleep(lease)
    assert first.events == ["elected"] and second.events == []
    first.die()
    took = _wait_for(lambda: second.elector.leading, 5)
    assert took <= lease
    third = _Campaign(engine, "third", lease)
    third.elector.start()
    second.elector.stop()  # steps down and releases: the next one leads at once
    assert second.events == ["elected", "deposed"]
    _wait_for(lambda: third.elector.leading, lease / 2)
    third.elector.stop()


def test_a_leader_that_loses_its_lease_stops_scheduling(engine: sa.engine.Engine) -> None:
    campaign = _Campaign(engine, "first", 1.2)
    campaign.elector.start()
    _wait_for(lambda: campaign.elector.leading, 5)
    with engine.begin() as conn:  # someone else took it (e.g. after a long pause of ours)
        conn.execute(leases.leases.update().values(holder="usurper",
                                                   expires_at=T0 + dt.timedelta(days=36500)))
    _wait_for(lambda: campaign.events == ["elected", "deposed"], 3)
    assert not campaign.elector.leading
    campaign.elector.stop()
    assert campaign.events == ["elected", "deposed"]
