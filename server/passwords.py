"""Passwords: argon2id, hashed and verified in a thread so the event loop keeps serving.

A verification takes ~170 ms of CPU with the default profile; on the event
loop that would stall every other request for as long.
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

MIN_LENGTH = 10


@cache
def _hasher(fast: bool) -> PasswordHasher:
    # `fast` is for the test suite only (THREEMIN_FAST_PASSWORD_HASHING).
    return PasswordHasher.from_parameters(CHEAPEST if fast else RFC_9106_LOW_MEMORY)


async def hash_password(password: str, *, fast: bool = False) -> str:
    return await asyncio.to_thread(_hasher(fast).hash, password)


async def verify_password(password_hash: str, password: str, *, fast: bool = False) -> bool:
    try:
        return await asyncio.to_thread(_hasher(fast).verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against when the email is unknown, so that "no such user" costs
# the same time as "wrong password" and timing tells nothing.
_DUMMY: dict[bool, str] = {}


async def verify_nothing(password: str, *, fast: bool = False) -> bool:
    if fast not in _DUMMY:
        _DUMMY[fast] = await hash_password("not a real password", fast=fast)
    await verify_password(_DUMMY[fast], password, fast=fast)
    return False


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > 1000:
        return "must be at most 1000 characters"
    return None
