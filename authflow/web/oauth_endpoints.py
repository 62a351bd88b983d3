"""(placeholder: its page family is being built)"""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes(ctx) -> list[BaseRoute]:
    return []
