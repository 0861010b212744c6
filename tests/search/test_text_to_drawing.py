"""A text query ranks drawings by the encoder's text vector (text tower + text bridge) when
``search_text_to_image`` is on: the vector the search uses is the bridged one, and the drawings come back in
its order (embedded backend, POST /search)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.model import registry, text_bridge

QUERY = "seat with a backrest"


@pytest.fixture
def bridged_app(make_settings):
    checkpoint = registry.default_checkpoint("prism-draw")
    if checkpoint is None or not text_bridge.path_for(checkpoint).is_file():
        pytest.skip("no packaged prism-draw checkpoint with a text bridge")
    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.model.encoder import get_encoder
    from backend.search import get_backend

    settings = make_settings(search_text_to_image=True, search_verify_top_k=0, search_dense_text=False)
    upgrade_database(settings.resolved_database_url)
    app = create_app(settings)
    encoder = get_encoder(settings)
    bridged = encoder.encode_texts([QUERY])[0]
    bridge, encoder.text_bridge = encoder.text_bridge, None
    try:
        alone = encoder.encode_texts([QUERY])[0]
    finally:
        encoder.text_bridge = bridge
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(6, encoder.dim)).astype(np.float32)
    vectors[:, encoder.embed_dim:] = 0
    vectors[0], vectors[1] = bridged, alone      # the nearest drawing of each text vector
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # no title shares a word with the query: only the vector list can rank these figures
    docs = [{"figure_id": f"D{i}-F1", "publication_number": f"D{i}", "figure_number": 1, "title": "drawing",
             "image_vector": vectors[i].tolist()} for i in range(6)]
    get_backend(settings).index_figures(docs)
    return app.test_client(), encoder, vectors, bridged, alone


def test_a_text_query_ranks_drawings_by_the_bridged_text_vector(bridged_app):
    client, encoder, vectors, bridged, alone = bridged_app
    assert encoder.text_bridge is not None and not np.allclose(alone, bridged)
    resp = client.post("/search", json={"text": QUERY, "size": 6})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    got = [h["figure_id"] for h in resp.get_json()["hits"]]
    assert got == [f"D{i}-F1" for i in np.argsort(-(vectors @ bridged))]
    assert got[0] == "D0-F1"      # the text tower alone would have put D1 first
