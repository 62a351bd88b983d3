"""client_secrets (being written)."""
