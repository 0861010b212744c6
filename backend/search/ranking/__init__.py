"""Ranking beyond one list: rank fusion, class consensus, geometric verification of drawings."""
