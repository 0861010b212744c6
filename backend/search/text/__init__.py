"""Text analysis shared by both backends: languages, stemming, compounds, BM25 fields, dense text."""
