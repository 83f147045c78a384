"""One module per schema revision; the same revisions for SQLite and PostgreSQL."""
