"""What goes into the search index: figure documents, index admin, encoder identity, re-embedding."""
