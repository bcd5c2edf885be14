"""Browse the archive in Datasette: its metadata, plugin, templates, and the command line that serves it."""
