"""user_import (being written)."""
