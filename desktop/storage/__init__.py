"""SQLite files (gallery.db, case.db): connections, schema migrations, transactions."""
