"""The console's experiments pages (being written)."""
