"""``prism backup DEST``, ``prism restore SRC`` and ``prism backup verify SRC``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from backend.settings import get_settings


def _fail(action: str, exc: Exception) -> None:
    click.echo(f"prism: {action}: {exc}", err=True)
    sys.exit(1)


def _summary(manifest: dict) -> str:
    record, index, blobs = manifest["record"], manifest["index"], manifest["blobs"]
    counts = record["counts"]
    return (f"{counts.get('patents', 0)} patents, {counts.get('figures', 0)} figures ({record['kind']}); "
            f"{index['figures']} index documents ({index['kind']}); {blobs['count']} blobs ({blobs['kind']}); "
            f"encoder {manifest['encoder']}")


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
def backup_command(dest: Path) -> None:
    """Save the record, the index and the blobs into DEST (a new folder), with a manifest of counts,
    checksums and the encoder. For a consistent set, stop ingest (the workers) meanwhile."""
    from backend.backup import BackupError, backup

    try:
        result = backup(get_settings(), dest)
    except BackupError as exc:
        _fail("backup failed", exc)
    click.echo(f"backed up to {result.folder}: {_summary(result.manifest)}")


@click.command("restore")
@click.argument("src", type=click.Path(path_type=Path))
def restore_command(src: Path) -> None:
    """Restore the set in SRC into this installation, which must be empty (a new PRISM_DATA_DIR, an empty
    database and index). The whole set is checked first; a damaged, truncated or mismatched one is refused
    and nothing is written."""
    from backend.backup import BackupError, restore

    try:
        manifest = restore(get_settings(), src)
    except BackupError as exc:
        _fail("restore refused", exc)
    click.echo(f"restored from {Path(src).resolve()}: {_summary(manifest)}")


@click.command("backup-verify")
@click.argument("src", type=click.Path(path_type=Path))
def verify_command(src: Path) -> None:
    """Check a backup set (every file's size and checksum against its manifest) without restoring it."""
    from backend.backup import BackupError, verify

    try:
        manifest = verify(src)
    except BackupError as exc:
        _fail("the set is not usable", exc)
    click.echo(f"{Path(src).resolve()} is complete: {_summary(manifest)}")


commands = [backup_command, restore_command, verify_command]
