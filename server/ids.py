"""Public ids: a type prefix and 20 random base62 characters (~119 bits).

Random rather than sequential, so an id says nothing about how many objects
exist and cannot be guessed. One function per prefix, because migrations refer
to a column default by its import path.
"""

from __future__ import annotations

import secrets

from server.keys import base62

LENGTH = 20


def new_id(prefix: str) -> str:
    # One read of 16 random bytes, not 20 calls of secrets.choice (a system call
    # each): ids are made on every record insert. 2**128 / 62**20 ≈ 476, so the
    # modulo's bias is under 0.3 % and the id keeps ~119 bits of entropy.
    number = int.from_bytes(secrets.token_bytes(16), "big") % 62**LENGTH
    return prefix + "_" + base62(number, LENGTH)


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
