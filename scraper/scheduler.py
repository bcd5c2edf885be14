"""Run the schedules on time with APScheduler 3.x; also turns a schedule's trigger into an APScheduler trigger."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from scraper.config import Trigger

#: A schedule that names no trigger runs hourly.
DEFAULT_INTERVAL = timedelta(hours=1)


def build_trigger(trigger: Trigger) -> Any:
    """The APScheduler trigger for a schedule's [trigger] table; ValueError if the cron expression is invalid."""
    zone = ZoneInfo(trigger.timezone)
    jitter = int(trigger.jitter) or None
    if trigger.cron:
        cron = CronTrigger.from_crontab(trigger.cron, timezone=zone)
        cron.jitter = jitter
        return cron
    interval = trigger.interval or DEFAULT_INTERVAL
    return IntervalTrigger(seconds=interval.total_seconds(), timezone=zone, jitter=jitter)
