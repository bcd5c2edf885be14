"""Search of the archive: text analysis, query reading, snippets, and the search itself (find.search)."""
