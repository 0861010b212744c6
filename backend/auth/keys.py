"""API keys: created and revoked by the CLI, stored as a SHA-256 hash of a high-entropy token.

A token looks like ``prism_<prefix>_<secret>``: the prefix (8 hex characters, unique) finds the row,
the hash of the whole token proves possession. The token itself is shown once, at creation.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.scopes import ADMIN, parse_scopes
from backend.db.models import ApiKey, utcnow

TOKEN_SCHEME = "prism"
PREFIX_BYTES = 4            # 8 hex characters
SECRET_BYTES = 32           # 256 bits of entropy
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


class KeyNotFound(LookupError):
    """No such key (message names the prefix)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key, or ``anonymous`` (all scopes) when keys are not required."""

    key_id: int | None
    name: str
    prefix: str | None
    scopes: tuple[str, ...]
    # what the rate limit counts by: derived from the key's stored hash, so it is unique to the key across
    # deployments sharing one Redis (the row id is not: every deployment has a key #2)
    rate_key: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    @property
    def owner(self) -> str:
        """The owner recorded on things this principal creates (watches)."""
        return self.name


ANONYMOUS = Principal(key_id=None, name="anonymous", prefix=None, scopes=("search", "ingest", "admin"))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def split_token(token: str) -> str | None:
    """The prefix of a well-formed token, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME or len(parts[1]) != 2 * PREFIX_BYTES:
        return None
    if not parts[2]:
        return None
    return parts[1]


def create_key(session: Session, name: str, scopes: str | list[str]) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the token (which is not stored and cannot be shown again)."""
    name = (name or "").strip()
    if not name:
        raise ValueError("a key needs a non-empty --name")
    if len(name) > 255:
        raise ValueError("key name is longer than 255 characters")
    scope_list = parse_scopes(scopes)
    for _ in range(10):
        prefix = secrets.token_hex(PREFIX_BYTES)
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    else:  # pragma: no cover - 2**32 prefixes
        raise RuntimeError("could not find a free key prefix")
    token = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=hash_token(token), scopes=scope_list, revoked=False)
    session.add(key)
    session.flush()
    return key, token


def revoke_key(session: Session, prefix: str) -> ApiKey:
    prefix = prefix.strip()
    if prefix.startswith(f"{TOKEN_SCHEME}_"):  # accept a whole token too
        prefix = split_token(prefix) or prefix
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise KeyNotFound(f"no API key with prefix {prefix!r}")
    key.revoked = True
    return key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal for a presented token, or None when unknown, malformed or revoked."""
    prefix = split_token(token or "")
    if prefix is None:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked:
        return None
    if not hmac.compare_digest(key.key_hash, hash_token(token.strip())):
        return None
    now = utcnow()
    last = key.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    if last is None or now - last >= LAST_USED_GRANULARITY:
        key.last_used_at = now
    return Principal(key_id=key.id, name=key.name, prefix=key.prefix, scopes=tuple(key.scopes or ()),
                     rate_key=rate_limit_key(key.key_hash))


def rate_limit_key(key_hash: str) -> str:
    """The key's rate-limit counter name part: a hash of its stored hash (the stored hash itself stays in
    the database; Redis key names are visible to anyone who can list keys)."""
    return hashlib.sha256(f"prism-ratelimit:{key_hash}".encode()).hexdigest()[:32]
