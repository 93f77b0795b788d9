"""The first-run setup link is for the very first person only."""

from __future__ import annotations

import pytest

from server.errors import NotFound
from server.services import accounts, members


async def test_a_setup_link_dies_once_someone_exists(settings, db):
    url = await members.setup_link(settings)
    assert url is not None and url.startswith(settings.base_url + "/invite/")
    token = url.rsplit("/", 1)[1]
    assert (await members.inspect_invitation(token, settings)).workspace_name is None
    await accounts.create_user("first@example.com", "First", "a long enough password", settings)  # e.g. `threemin createuser`
    with pytest.raises(NotFound):
        await members.inspect_invitation(token, settings)
    assert await members.setup_link(settings) is None


async def test_a_new_setup_link_replaces_the_old_one(settings, db):
    old = (await members.setup_link(settings)).rsplit("/", 1)[1]
    new = (await members.setup_link(settings)).rsplit("/", 1)[1]
    with pytest.raises(NotFound):
        await members.inspect_invitation(old, settings)
    assert await members.inspect_invitation(new, settings)


async def test_every_problem_of_a_new_user_is_reported_at_once(settings, db):
    from server.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        await accounts.create_user("not-an-email", "", "short", settings)
    assert set(caught.value.extensions["fields"]) == {"email", "name", "password"}
