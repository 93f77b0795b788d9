"""DataLoaders: one query per kind of object per request, however many keys a page lists."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from strawberry.dataloader import DataLoader

from server.models import Endpoint, Partner, User
from server.services.usage import uses_since


async def _by_id(model: type, ids: Sequence[str]) -> list:
    found = {row.id: row for row in await model.filter(id__in=list(ids))}
    return [found.get(ident) for ident in ids]


async def _partners(ids: Sequence[str]) -> list[Partner | None]:
    return await _by_id(Partner, ids)


async def _endpoints(ids: Sequence[str]) -> list[Endpoint | None]:
    return await _by_id(Endpoint, ids)


async def _users(ids: Sequence[str]) -> list[User | None]:
    return await _by_id(User, ids)


async def _uses_30_days(ids: Sequence[str]) -> list[int]:
    totals = await uses_since(ids, days=30)
    return [totals.get(ident, 0) for ident in ids]


class Loaders:
    """Made on first use: most requests (a partner's createRecord) need none of them."""

    @cached_property
    def partner(self) -> DataLoader[str, Partner | None]:
        return DataLoader(load_fn=_partners)

    @cached_property
    def endpoint(self) -> DataLoader[str, Endpoint | None]:
        return DataLoader(load_fn=_endpoints)

    @cached_property
    def user(self) -> DataLoader[str, User | None]:
        return DataLoader(load_fn=_users)

    @cached_property
    def uses_30_days(self) -> DataLoader[str, int]:
        return DataLoader(load_fn=_uses_30_days)
