"""The per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass

from server.policy import Principal
from server.services.usage import LastUsed
from server.settings import Settings


@dataclass(slots=True)
class Context:
    principal: Principal
    settings: Settings
    request_id: str
    last_used: LastUsed
