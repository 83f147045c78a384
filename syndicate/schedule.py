"""Where job stores written by Syndicate 0.1 find their jobs' function.

APScheduler keeps each job's function as a textual reference in ``apscheduler_jobs``; jobs
created before the package was split into stages name ``syndicate.schedule:scheduled_job``.
That reference must keep resolving for those deployments, so this module stays.
"""

from __future__ import annotations

from .service.schedule import scheduled_job

__all__ = ["scheduled_job"]
