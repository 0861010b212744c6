"""`prism services up` names a checkout folder the service user cannot enter (a clone under `mktemp -d`)."""
import os

import pytest

from backend import devservices


@pytest.mark.skipif(os.geteuid() != 0, reason="services run as another user only when started by root")
def test_a_closed_folder_above_the_checkout_is_named(tmp_path):
    closed = tmp_path / "private"
    inner = closed / "clone" / ".cache" / "es"
    inner.mkdir(parents=True)
    closed.chmod(0o700)
    tmp_path.chmod(0o755)
    assert devservices.closed_ancestor(inner) == closed
    closed.chmod(0o755)
    assert devservices.closed_ancestor(inner) in (None, *[p for p in tmp_path.parents])
