"""The console's exam pages (being written)."""
