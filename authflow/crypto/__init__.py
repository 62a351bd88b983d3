"""Cryptography: password hashing, and later SRP, tokens and sealed blobs. Pure: salts
and keys are arguments."""
