"""The console's jobs pages (being written)."""
