"""The job store (SQLite, the source of truth), rows read lazily, the group writer, the response cache, paths."""
