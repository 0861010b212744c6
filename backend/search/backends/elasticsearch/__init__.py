"""The Elasticsearch backend: BM25 and kNN in one round trip, fused in our code."""
