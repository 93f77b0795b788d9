"""The records screens (being built)."""

from __future__ import annotations

from starlette.routing import Route

from server.dashboard.screens import Screens


def routes(screens: Screens) -> list[Route]:
    return []
