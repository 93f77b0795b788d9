"""The `viewer` query."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from server.graphql.viewer.types import Viewer


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="Who is calling, with what rights. Any valid key may ask.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer.from_principal(info.context.principal)
