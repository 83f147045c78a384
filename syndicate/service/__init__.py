"""The running service: the processes operators start, the jobs they schedule and steer.

``syndicate run`` and ``syndicate worker`` are :mod:`.process`; the scheduled jobs and
their run history are :mod:`.jobs`, scheduled by APScheduler (:mod:`.schedule`) in the one
process that holds the leader lease (:mod:`.leases`); ``syndicate status`` reads
:mod:`.report`; :mod:`.logs` writes one JSON object per line.
"""

from __future__ import annotations

from .jobs import JOBS, JobRunner, Run, history
from .logs import configure as configure_logs
from .logs import log_json
from .process import RunProcess, WorkerProcess, bind
from .report import Report, collect
from .schedule import JobInfo, Scheduler, list_jobs, pause, resume

__all__ = [
    "JOBS",
    "JobInfo",
    "JobRunner",
    "Report",
    "Run",
    "RunProcess",
    "Scheduler",
    "WorkerProcess",
    "bind",
    "collect",
    "configure_logs",
    "history",
    "list_jobs",
    "log_json",
    "pause",
    "resume",
]
