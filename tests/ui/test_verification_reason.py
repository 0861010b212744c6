"""The reason line of a hit says when its drawing was verified as the query drawing."""
from __future__ import annotations


def test_reason_names_a_verified_drawing(live_server, page_factory):
    page = page_factory(live_server().url)
    reasons = page.evaluate("""async () => {
        const f = await import('/ui/static/format.js');
        return [
          f.reason({bm25: null, vector: {rank: 7, similarity: 0.56}, text_share: 0, image_share: 1,
                    verification: {inliers: 112, cells: 18, score: 1.0}}),
          f.reason({bm25: null, vector: {rank: 1, similarity: 0.76}, text_share: 0, image_share: 1,
                    verification: {inliers: 3, cells: 2, score: 0.0052}}),
        ];
    }""")
    assert reasons[0]["label"] == "Same drawing (verified)"
    assert reasons[0]["detail"] == "drawing 56% similar · the same shapes: 112 points line up with the query drawing"
    assert reasons[1]["label"] == "Matched on drawing"
    assert reasons[1]["detail"] == "drawing 76% similar · some shapes line up with the query drawing (1%)"


def test_reason_names_the_class_consensus(live_server, page_factory):
    page = page_factory(live_server().url)
    reason = page.evaluate("""async () => {
        const f = await import('/ui/static/format.js');
        return f.reason({bm25: null, vector: {rank: 2, similarity: 0.41, class_consensus: 0.6,
                                              consensus_class: "locarno:06-01"}, text_share: 0, image_share: 1});
    }""")
    assert reason["detail"] == ("drawing 41% similar · re-ranked by class: 60% of the most similar drawings are "
                                "Locarno 06-01")
