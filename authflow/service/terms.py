"""terms (being written)."""
