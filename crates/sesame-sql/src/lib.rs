//! SQL stores (SQLite, PostgreSQL, MySQL/MariaDB) in Django's own tables. Not built yet: see issue 3.
