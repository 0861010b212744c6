"""Monitoring of new filings: watches (saved searches), runs, alerts and signed webhooks."""
from backend.monitoring.signing import sign, verify_signature

__all__ = ["sign", "verify_signature"]
