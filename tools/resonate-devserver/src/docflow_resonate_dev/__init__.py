"""docflow's Resonate dev server: the real server's wire protocol, on SQLite, from PyPI."""
