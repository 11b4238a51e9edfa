"""The console's datasets pages (being written)."""
