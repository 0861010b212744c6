"""Backup and restore of a whole installation (record, index, blobs): :mod:`.sets`, :mod:`.parts`,
``prism backup`` / ``prism restore`` (:mod:`.cli`). docs/operations.md."""
from backend.backup.parts import BackupError
from backend.backup.sets import backup, restore, verify

__all__ = ["BackupError", "backup", "restore", "verify"]
