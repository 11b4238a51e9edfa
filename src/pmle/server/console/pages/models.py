"""The console's models pages (being written)."""
