"""Public ids: a type prefix and 20 random base62 characters (~119 bits).

Random rather than sequential, so an id says nothing about how many objects
exist and cannot be guessed. One function per prefix, because migrations refer
to a column default by its import path.
"""

from __future__ import annotations

import secrets

from server.keys import ALPHABET

LENGTH = 20


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def workspace_id() -> str:
    return new_id("ws")


def endpoint_id() -> str:
    return new_id("ep")


def partner_id() -> str:
    return new_id("pt")


def key_id() -> str:
    return new_id("key")


def record_id() -> str:
    return new_id("rec")


def user_id() -> str:
    return new_id("usr")


def invitation_id() -> str:
    return new_id("inv")


def claim_link_id() -> str:
    return new_id("cl")
