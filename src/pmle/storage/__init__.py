"""Storage layer: the metadata database, the content-addressed artifact store and the DuckDB
warehouse that together make a workspace."""
