"""API key service on a real (SQLite) database."""
import hashlib

import pytest
from sqlalchemy import select

from backend.auth.keys import KeyNotFound, authenticate, create_key, list_keys, revoke_key
from backend.cli_db import upgrade_database
from backend.db.models import ApiKey
from backend.db.session import session_scope


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade_database(url)
    return url


def test_token_is_stored_only_as_its_sha256(db_url):
    with session_scope(db_url) as s:
        key, token = create_key(s, "alice", "search,ingest")
    assert token.startswith(f"prism_{key.prefix}_") and len(token) > 40
    with session_scope(db_url) as s:
        row = s.scalar(select(ApiKey))
        assert row.key_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.key_hash, row.prefix, row.name)
        assert row.scopes == ["search", "ingest"]


def test_authenticate_accepts_the_token_and_nothing_else(db_url):
    with session_scope(db_url) as s:
        key, token = create_key(s, "bob", "search")
    with session_scope(db_url) as s:
        p = authenticate(s, token)
        assert p.name == "bob" and p.scopes == ("search",) and not p.is_admin
        assert authenticate(s, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert authenticate(s, f"prism_{key.prefix}_") is None
        assert authenticate(s, "garbage") is None
        assert authenticate(s, "prism_00000000_" + token.split("_", 2)[2]) is None
    with session_scope(db_url) as s:
        assert s.scalar(select(ApiKey.last_used_at)) is not None


def test_revoked_key_no_longer_authenticates(db_url):
    with session_scope(db_url) as s:
        key, token = create_key(s, "carol", "admin")
    with session_scope(db_url) as s:
        assert revoke_key(s, key.prefix).revoked
    with session_scope(db_url) as s:
        assert authenticate(s, token) is None
        assert [k.revoked for k in list_keys(s)] == [True]


def test_bad_input_is_named(db_url):
    with session_scope(db_url) as s:
        with pytest.raises(ValueError, match="name"):
            create_key(s, "  ", "search")
        with pytest.raises(ValueError, match="'root'"):
            create_key(s, "x", "root")
        with pytest.raises(KeyNotFound, match="deadbeef"):
            revoke_key(s, "deadbeef")
