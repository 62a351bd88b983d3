"""tags (being written)."""
