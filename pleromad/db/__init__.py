"""PostgreSQL access: the connection pool, the embedded server and migrations."""
