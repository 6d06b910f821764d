"""What survives the process: the resume journal (SQLite, WAL)."""
