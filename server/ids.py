"""Public ids: a type prefix and 20 uniformly random base62 characters (~119 bits).

Random rather than sequential, so an id says nothing about how many objects
exist and cannot be guessed. One function per prefix, because migrations refer
to a column default by its import path.
"""

from __future__ import annotations

import secrets

from server.keys import ALPHABET

LENGTH = 20

# Each random byte below 248 (= 4 × 62) names one base62 character, without
# bias; the 8 bytes above are dropped. bytes.translate does the whole mapping
# in C: ids are made on every record insert, and a divmod loop over a big
# integer cost a visible share of a createRecord.
_USABLE = 4 * len(ALPHABET)
_TO_BASE62 = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
_DROPPED = bytes(range(_USABLE, 256))
_DRAW = LENGTH + 8  # 28 bytes hold 20 usable ones all but about once in 10**9 draws


def new_id(prefix: str) -> str:
    while True:
        characters = secrets.token_bytes(_DRAW).translate(_TO_BASE62, _DROPPED)
        if len(characters) >= LENGTH:
            return prefix + "_" + characters[:LENGTH].decode()


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
