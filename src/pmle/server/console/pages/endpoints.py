"""The console's endpoints pages (being written)."""
