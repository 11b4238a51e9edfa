"""The console's features pages (being written)."""
