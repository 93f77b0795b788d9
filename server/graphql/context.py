"""The per-request context every resolver receives (the API and, later, the dashboard build it alike)."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from server.graphql.loaders import Loaders
from server.policy import KeyPrincipal, OperatorPrincipal, Principal, SessionPrincipal
from server.services.audit import Actor
from server.services.usage import KeyUsage
from server.settings import Settings


@dataclass(slots=True)
class Context:
    principal: Principal
    settings: Settings
    request_id: str
    key_usage: KeyUsage
    ip: str | None = None
    user_agent: str | None = None
    loaders: Loaders = field(default_factory=Loaders)  # per request: DataLoaders must not outlive it

    @classmethod
    def for_request(cls, request: HTTPConnection, principal: Principal, settings: Settings, key_usage: KeyUsage, request_id: str) -> Context:
        """The one context builder: /graphql and the dashboard both use it, so a page can do no more than the API."""
        return cls(
            principal=principal,
            settings=settings,
            request_id=request_id,
            key_usage=key_usage,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )

    @property
    def actor(self) -> Actor:
        principal = self.principal
        if isinstance(principal, SessionPrincipal):
            ident = principal.user_id
        elif isinstance(principal, KeyPrincipal):
            ident = principal.key_id
        else:
            assert isinstance(principal, OperatorPrincipal)
            ident = "cli"
        return Actor(ident, self.ip, self.user_agent)
