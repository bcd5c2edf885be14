"""Crawl a site from its schedule: discover article URLs, fetch them politely, archive them, resumably."""
