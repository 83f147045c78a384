"""The operator's view (jobs, subscribers' health, dead letters, content problems, languages,
charts of the last day) and the translator's view (progress and to-do per language).

Operators sign in with a console credential of role ``operator``; translators with one of
role ``translator``, which opens the translator's pages only (read-only: they change
catalogs in their own tools, not here). Operators see the translator's pages too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ApiError, JobError
from . import charts, data
from .cache import Snapshot
from .web import ROOT, Console

HOME = f"{ROOT}/operator/"
PROGRESS_COLOURS = (("publishable", "#1b7f3b"), ("blocked", "#b3261e"))
MESSAGE_COLOURS = (("translated", "#1b7f3b"), ("fuzzy", "#8a5a00"),
                   ("untranslated", "#6b6b6b"), ("needs review", "#b3261e"))


def _page_cursor(request: Request) -> int | None:
    text = request.query_params.get("before", "")
    return int(text) if text.isdigit() else None


class OperatorPages:
    """The operator's and translator's handlers."""

    def __init__(self, console: Console) -> None:
        self.c = console

    async def home(self, request: Request) -> Response:
        """GET /console/operator/: jobs, languages, the last day's charts."""
        session = await self.c.require(request, "operator")
        now = self.c.clock()
        found = await self.c.db(data.jobs, self.c.engine, self.c.settings)
        last = await self.c.db(data.last_runs, self.c.engine, [job.name for job in found])
        figures = await self.c.db(data.language_figures, self.c.engine, self.c.settings,
                                  now=now)
        day = await self.c.db(charts.last_day, self.c.engine, now=now)
        pictures = [
            charts.line_chart("Deliveries per minute", day.start,
                              [("sent", "#1b7f3b", day.sent), ("failed", "#b3261e", day.failed)],
                              "attempts"),
            charts.line_chart("Queue depth", day.start, [("due", "#1f5fa8", day.due),
                                                         ("pending", "#6b4fa0", day.pending)],
                              "deliveries", total=False),
            charts.bar_chart("Sync durations", day.start, day.syncs),
        ]
        return self.c.page("operator_home.html", session, request=request, jobs=found,
                           last=last, languages=figures, charts=pictures)

    async def job(self, request: Request) -> Response:
        """GET /console/operator/jobs/{name}: the job's run history."""
        session = await self.c.require(request, "operator")
        name = str(request.path_params["name"])
        known = {job.name: job for job in await self.c.db(data.jobs, self.c.engine,
                                                             self.c.settings)}
        if name not in known:
            raise ApiError(404, "not_found", "no such job")
        runs = await self.c.db(data.job_runs_of, self.c.engine, name)
        return self.c.page("operator_job.html", session, request=request, job=known[name],
                           runs=runs)

    async def job_action(self, request: Request) -> Response:
        """POST /console/operator/jobs/{name}/{action}: run now, pause, resume."""
        session = await self.c.require(request, "operator")
        await self.c.form(request, session)
        name, action = str(request.path_params["name"]), str(request.path_params["action"])
        here = f"{HOME}jobs/{name}"
        try:
            if action == "run":
                self.c.run_job(name)
                return self.c.redirect(here, "run")
            if action == "pause":
                await self.c.db(data.pause_job, self.c.engine, name)
                return self.c.redirect(here, "paused")
            if action == "resume":
                await self.c.db(data.resume_job, self.c.engine, name, now=self.c.clock())
                return self.c.redirect(here, "resumed")
        except JobError as exc:
            status = 404 if name not in data.job_names() else 409
            raise ApiError(status, "job", str(exc)) from exc
        raise ApiError(404, "not_found", "no such action")

    async def subscribers(self, request: Request) -> Response:
        """GET /console/operator/subscribers: health, and the dead letters."""
        session = await self.c.require(request, "operator")
        health = await self.c.db(data.subscriber_health, self.c.engine)
        dead = await self.c.db(data.dead_letters, self.c.engine, before=_page_cursor(request))
        return self.c.page("operator_subscribers.html", session, request=request,
                           health=health, dead=dead,
                           next_before=dead[-1].id if len(dead) == data.PAGE_SIZE else None)

    async def retry(self, request: Request) -> Response:
        """POST /console/operator/deliveries/{id}/retry: a dead letter sent again."""
        session = await self.c.require(request, "operator")
        await self.c.form(request, session)
        done = await self.c.db(data.retry_dead, self.c.engine,
                               int(request.path_params["delivery_id"]), now=self.c.clock())
        return self.c.redirect(f"{HOME}subscribers", "retried" if done else "not-retried")

    async def content(self, request: Request) -> Response:
        """GET /console/operator/content: every problem of the answer files."""
        session = await self.c.require(request, "operator")
        snapshot = await self.c.db(data.content_snapshot, self.c.settings)
        return self.c.page("operator_content.html", session, request=request,
                           problems=snapshot.value or [], ready=snapshot.value is not None,
                           updating=_updating(snapshot, "an answer file"))

    # -- translators -------------------------------------------------------------------------

    async def translate(self, request: Request) -> Response:
        """GET /console/translate/: every language's progress, the most read first."""
        session = await self.c.require(request, "operator", "translator")
        snapshot = await self.c.db(data.translation_snapshot, self.c.settings)
        state = snapshot.value or {}
        readers = await self.c.db(data.readers_per_language, self.c.engine, list(state))
        order = sorted(state, key=lambda lang: (-readers.get(lang, 0), lang))
        rows = []
        for lang in order:
            progress = state[lang][0]
            rows.append((progress, readers.get(lang, 0), charts.stacked_bar(
                f"{lang} answers", [(label, colour, getattr(progress, label))
                                    for label, colour in PROGRESS_COLOURS]),
                charts.stacked_bar(f"{lang} messages", [
                    (label, colour, count) for (label, colour), count in zip(
                        MESSAGE_COLOURS, (progress.translated, progress.fuzzy,
                                          progress.untranslated, progress.failing),
                        strict=True)])))
        return self.c.page("translate_home.html", session, request=request, rows=rows,
                           updating=_updating(snapshot, "an answer or a catalog"))

    async def language(self, request: Request) -> Response:
        """GET /console/translate/{language}: the language's to-do and stale translations."""
        session = await self.c.require(request, "operator", "translator")
        lang = str(request.path_params["language"])
        if lang not in data.target_languages_of(self.c.settings):
            raise ApiError(404, "not_found", "no such language")
        snapshot = await self.c.db(data.translation_snapshot, self.c.settings)
        progress, todo = (snapshot.value or {}).get(lang, (None, []))
        stale = await self.c.db(data.stale_translations, self.c.engine, lang,
                                now=self.c.clock())
        start = int(request.query_params.get("from", "0") or 0) if request.query_params.get(
            "from", "0").isdigit() else 0
        shown = todo[start:start + data.PAGE_SIZE * 4]
        more = start + len(shown) if start + len(shown) < len(todo) else None
        return self.c.page("translate_language.html", session, request=request, language=lang,
                           rtl=data.is_rtl(lang), progress=progress, todo=shown,
                           todo_total=len(todo), more=more, stale=stale,
                           updating=_updating(snapshot, "an answer or a catalog"))


def _updating(snapshot: Snapshot[Any], what: str) -> dict[str, str | None] | None:
    """What the page says of figures not up to date (``None`` when they are): since when
    they are (``as_of``, none yet if ``None``), why they could not be updated (``error``),
    and ``what`` changes them."""
    if snapshot.current:
        return None
    as_of = None if snapshot.as_of is None else dt.datetime.fromtimestamp(
        snapshot.as_of, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"as_of": as_of, "error": snapshot.error, "what": what}
