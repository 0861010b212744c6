"""The examiner web UI: one page (plain HTML + vanilla JS modules + CSS) served by the API app.

The page talks to the public API (POST /search, GET /patents/<id>, /classifications/suggest,
POST /search/export, POST /watches) with the user's API key; see docs/ui.md.
"""
