"""branding (being written)."""
