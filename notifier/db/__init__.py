"""Storage: engines, transactions, tables and their handles, bulk statements, schema version."""
