"""get_backend: one backend per location and configuration, its settings never changed under it."""
from __future__ import annotations

from backend.search import get_backend, reset_backends


def test_the_same_settings_share_a_backend_and_other_settings_get_their_own(make_settings):
    reset_backends()
    first = make_settings(search_dense_text=False)
    same = first.model_copy()
    other = first.model_copy(update={"search_dense_text": True})
    backend = get_backend(first)
    assert get_backend(same) is backend
    changed = get_backend(other)
    assert changed is not backend
    assert backend.settings.search_dense_text is False and changed.settings.search_dense_text is True
    reset_backends()
