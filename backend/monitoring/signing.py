"""Webhook signatures: ``X-Prism-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

Receivers call :func:`verify_signature` with the watch's secret, the header and the raw body. The
timestamp is signed too, so a captured request cannot be replayed after ``tolerance_s``. Several
``v1=`` entries may be present (while a secret is rotated); any one matching is enough.
"""
from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Prism-Signature"
TIMESTAMP_HEADER = "X-Prism-Timestamp"
SCHEME = "v1"


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def compute_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    message = str(int(timestamp)).encode("ascii") + b"." + _as_bytes(body)
    return hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, timestamp: int | None = None) -> str:
    """The value of the ``X-Prism-Signature`` header for ``body``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},{SCHEME}={compute_signature(secret, ts, body)}"


def parse_signature_header(header: str) -> tuple[int | None, list[str]]:
    """``"t=1,v1=ab,v1=cd"`` -> ``(1, ["ab", "cd"])``; unparseable parts are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return None, []
        elif key == SCHEME and value:
            signatures.append(value.strip().lower())
    return timestamp, signatures


def verify_signature(secret: str, header: str, body: bytes | str, tolerance_s: float = 300,
                     now: float | None = None) -> bool:
    """True when ``header`` carries a valid HMAC of ``body`` under ``secret`` made within
    ``tolerance_s`` seconds of ``now`` (either direction, to allow for clock skew)."""
    if not secret or not header:
        return False
    timestamp, signatures = parse_signature_header(header)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if tolerance_s is not None and abs(now - timestamp) > tolerance_s:
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
