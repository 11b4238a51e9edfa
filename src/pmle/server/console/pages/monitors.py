"""The console's monitors pages (being written)."""
