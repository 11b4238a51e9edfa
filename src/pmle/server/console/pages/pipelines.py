"""The console's pipelines pages (being written)."""
