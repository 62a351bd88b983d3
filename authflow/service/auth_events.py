"""auth_events (being written)."""
