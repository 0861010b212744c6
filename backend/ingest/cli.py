"""``prism ingest PATH ...`` (bulk ingest with a progress bar and a summary) and ``prism blobs gc``."""
from __future__ import annotations

import sys

import click


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--no-wait", is_flag=True, help="celery mode: return once the jobs are queued.")
@click.option("--timeout", "timeout_s", type=float, default=None, help="celery mode: give up waiting after N s.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="List every skipped and failed document.")
@click.option("--no-resume", is_flag=True,
              help="Ingest every document again, also those already stored with the same content (and the "
                   "members of a weekly .tar archive a finished job already did).")
def ingest(paths: tuple[str, ...], no_wait: bool, timeout_s: float | None, quiet: bool, verbose: bool,
           no_resume: bool) -> None:
    """Ingest USPTO XML (files, weekly bulk files, zips, weekly .tar archives of zips), scanned patent
    PDFs (OCR), DeepPatent2 JSON or JSONL manifests.

    Folders are searched recursively. Re-ingesting a patent replaces it; a document already stored and
    indexed with the same content (text, drawings, encoder) is not done again ("already done"), nor are the
    members of a weekly archive already ingested from the same archive (path, size, mtime).
    """
    from backend.ingest.bulk import ingest_paths
    from backend.settings import get_settings

    settings = get_settings()
    _ready_database(settings.resolved_database_url)
    from backend.ingest.progress_bar import TerminalBar, on_a_terminal

    try:
        with TerminalBar() as bar:
            summary = ingest_paths(list(paths), settings, wait=not no_wait,
                                   progress=bar if not quiet and on_a_terminal() else False,
                                   timeout_s=timeout_s, resume=not no_resume)
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from None
    from rich.table import Table

    from backend.cli_output import console as make_console

    console = make_console()
    if no_wait and settings.task_mode == "celery":
        console.print(f"queued {len(summary.job_ids)} job(s); follow them with GET /jobs")
    table = Table(title="ingest summary", show_header=True)
    for col in ("ingested", "updated", "failed", "skipped", "already done", "figures", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(str(summary.ingested), str(summary.updated), str(summary.failed), str(summary.skipped),
                  str(summary.resumed), str(summary.figures), f"{summary.seconds:.1f}")
    console.print(table)
    if summary.resumed:
        console.print(f"already done: {summary.resumed} document(s) stored and indexed with the same content "
                      f"(not redone; --no-resume redoes them)", markup=False, highlight=False)
    limit = None if verbose else 10
    for title, rows in (("failed", summary.failures), ("skipped", summary.skips), ("incomplete", summary.notes)):
        for origin, reason in rows[:limit]:
            console.print(f"{title}: {origin}: {reason}", markup=False, highlight=False)
        if limit and len(rows) > limit:
            console.print(f"... and {len(rows) - limit} more {title} (use -v)")
    if summary.failed:
        sys.exit(1)


def _ready_database(url: str) -> None:
    """A fresh SQLite data dir is migrated first; another database must already be at head (the command
    says to run `prism db upgrade`)."""
    from sqlalchemy.exc import OperationalError

    from backend.cli_db import ensure_schema

    try:
        done = ensure_schema(url, migrate=url.startswith("sqlite"))
    except OperationalError as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        raise click.ClickException(f"cannot reach the database at {url.split('@')[-1]}: {first}") from None
    if done:
        click.echo(done, err=True)


@click.group("blobs")
def blobs() -> None:
    """The blob store of figure images (filesystem or S3)."""


@blobs.command("gc")
@click.option("--older-than-hours", type=click.FloatRange(min=0), default=24.0, show_default=True,
              help="Keep unreferenced blobs written more recently than this (ingests in flight).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("-v", "--verbose", is_flag=True, help="Print every key deleted (or to delete).")
def blobs_gc(older_than_hours: float, dry_run: bool, verbose: bool) -> None:
    """Delete blobs that no figure or unfinished ingest job refers to (old renditions after re-ingest)."""
    import datetime as dt

    from tqdm import tqdm

    from backend.ingest.blob_gc import collect
    from backend.settings import get_settings

    with tqdm(desc="blobs examined", unit="blob", disable=not sys.stderr.isatty()) as bar:
        report = collect(get_settings(), older_than=dt.timedelta(hours=older_than_hours), dry_run=dry_run,
                         on_blob=lambda: bar.update(1))
    if verbose:
        for key in report.deleted:
            click.echo(key)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"examined {report.examined} blobs: {report.referenced} referenced, {report.kept_recent} "
               f"unreferenced but newer than {older_than_hours:g} h (kept), {verb} {len(report.deleted)}")


@click.group("jobs")
def jobs() -> None:
    """Ingest jobs."""


@jobs.command("recover")
@click.option("--dry-run", is_flag=True, help="List the stuck jobs; change nothing.")
def jobs_recover(dry_run: bool) -> None:
    """Re-drive ingest jobs left queued or running with no live owner (a killed worker or API process,
    messages lost with the broker). Eager mode runs them here; celery mode queues them again."""
    from backend.ingest.reconcile import reconcile
    from backend.settings import get_settings

    report = reconcile(get_settings(), dry_run=dry_run)
    for item in report.stale:
        click.echo(f"{item.job_id} {item.status}: {item.why}")
    verb = "would re-drive" if dry_run else "re-drove"
    count = len(report.stale) if dry_run else len(report.redriven)
    click.echo(f"examined {report.examined} unfinished jobs: {len(report.stale)} stuck, {verb} {count}")


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "done", "failed", "stuck"]),
              help="Only these; stuck: queued or running with no live owner.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
def jobs_list(status: str | None, limit: int) -> None:
    """Ingest jobs, newest first, one a line; a stuck job says why (`prism jobs recover` re-drives it)."""
    from backend.ingest.jobs import list_jobs
    from backend.settings import get_settings

    page = list_jobs(get_settings(), status, limit)
    for job in page["items"]:
        state = f"{job['status']} STUCK ({job['stuck_reason']})" if job["stuck"] else job["status"]
        click.echo(f"{job['job_id']} {state} {job.get('publication_number') or '-'} {job.get('source') or ''}".rstrip())
    click.echo(f"{len(page['items'])} of {page['total']} jobs")


commands = [ingest, blobs, jobs]
