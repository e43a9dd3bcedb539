"""The HTTP edge: the only place errors become HTTP responses."""
