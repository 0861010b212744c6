"""``prism watches run-due|run ID`` — run watches from the command line (cron, or eager setups
without a beat process). New alerts are handed to the webhook queue as the beat task does."""
from __future__ import annotations

import json

import click

from backend.settings import get_settings


@click.group("watches")
def watches() -> None:
    """Saved searches that alert on new filings."""


def _print(summaries) -> None:
    from backend.monitoring.dispatch import enqueue_deliveries

    for s in summaries:
        if s.webhook and s.alert_ids:
            enqueue_deliveries(s.alert_ids, get_settings())
        click.echo(json.dumps({k: v for k, v in s.as_dict().items() if k != "alert_ids"}))


@watches.command("run-due")
def run_due() -> None:
    """Run every watch whose schedule is due."""
    from backend.monitoring.runner import run_due as run_due_watches

    settings = get_settings()
    summaries = run_due_watches(settings)
    _print(summaries)
    if not summaries:
        click.echo("no watch is due")
    # without beat (eager setups) this is also where failed webhook deliveries are retried
    from backend.monitoring.dispatch import enqueue_deliveries
    from backend.monitoring.webhooks import SWEEP_GRACE_S, due_alert_ids

    grace = 0.0 if settings.task_mode == "eager" else SWEEP_GRACE_S
    retried = enqueue_deliveries(due_alert_ids(settings, grace_s=grace), settings)
    if retried:
        click.echo(f"{retried} overdue webhook deliveries handed out")


@watches.command("run")
@click.argument("watch_id", type=int)
def run(watch_id: int) -> None:
    """Run one watch now, whatever its schedule."""
    from backend.monitoring.runner import run_watch

    summary = run_watch(watch_id, get_settings(), force=True)
    _print([summary])
    if summary.status in ("missing", "failed"):
        raise SystemExit(1)


commands = [watches]
