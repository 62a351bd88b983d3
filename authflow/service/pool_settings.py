"""pool_settings (being written)."""
