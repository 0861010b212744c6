import hashlib
import hmac

from backend.monitoring import sign, verify_signature
from backend.monitoring.signing import parse_signature_header

SECRET = "whsec_test_secret_value"
BODY = b'{"id":"alert-1"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    header = sign(SECRET, BODY, timestamp=1700000000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_fresh_signature():
    header = sign(SECRET, BODY, timestamp=1000)
    assert verify_signature(SECRET, header, BODY, tolerance_s=300, now=1100)
    assert verify_signature(SECRET, header, BODY.decode(), tolerance_s=300, now=1100)


def test_verify_rejects_tampering_wrong_secret_and_stale_timestamps():
    header = sign(SECRET, BODY, timestamp=1000)
    assert not verify_signature(SECRET, header, BODY + b" ", now=1000)
    assert not verify_signature("other-secret-value", header, BODY, now=1000)
    assert not verify_signature(SECRET, header, BODY, tolerance_s=300, now=1301)
    assert not verify_signature(SECRET, header.replace("t=1000", "t=1001"), BODY, now=1000)
    assert not verify_signature(SECRET, "", BODY, now=1000)
    assert not verify_signature(SECRET, "t=abc,v1=00", BODY, now=1000)
    assert not verify_signature("", header, BODY, now=1000)


def test_any_of_several_signatures_may_match_during_secret_rotation():
    old = sign("old-secret-value-123", BODY, timestamp=1000).split(",")[1]
    new = sign(SECRET, BODY, timestamp=1000)
    assert verify_signature(SECRET, f"{new},{old}", BODY, now=1000)
    assert parse_signature_header(f"{new},{old}")[0] == 1000
