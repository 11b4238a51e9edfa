"""Data files shipped with pmle (see ATTRIBUTION.md)."""
