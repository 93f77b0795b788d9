"""The collaboration key format: generate, checksum, parse, hash.

Pure functions, no I/O. A key looks like `tm_live_` + 30 random base62
characters + a 6-character checksum (CRC32 of everything before it, base62,
most significant digit first, left-padded with "0"), like GitHub's tokens. The
checksum lets `parse` (and any scanner) reject typos and look-alikes without a
database lookup. Only `hash_key`'s HMAC is stored; never log a key.
"""

from __future__ import annotations

import hmac
import re
import secrets
import zlib
from dataclasses import dataclass
from enum import Enum

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
PATTERN = re.compile(r"\btm_(test|live)_[0-9A-Za-z]{36}\b")
_FULL = re.compile(r"tm_(test|live)_[0-9A-Za-z]{36}")


class Environment(str, Enum):
    TEST = "test"
    LIVE = "live"

    @property
    def prefix(self) -> str:
        return f"tm_{self.value}_"


@dataclass(frozen=True, slots=True)
class ParsedKey:
    environment: Environment
    plaintext: str

    @property
    def last4(self) -> str:
        return self.plaintext[-4:]


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    return base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate(environment: Environment) -> str:
    return assemble(environment, "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH)))


def assemble(environment: Environment, random_part: str) -> str:
    body = environment.prefix + random_part
    return body + checksum(body)


def parse(candidate: str) -> ParsedKey | None:
    """The key if it has the right shape and checksum, else None. No I/O."""
    if len(candidate) != 44 or not _FULL.fullmatch(candidate):
        return None
    body, given = candidate[:-CHECKSUM_LENGTH], candidate[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(body), given):
        return None
    return ParsedKey(Environment(candidate[3:7]), candidate)


def hash_key(plaintext: str, secret: str) -> str:
    """HMAC-SHA256 of the whole key under the server secret, hex.

    Keys carry 178 random bits, so a slow password hash buys nothing; the
    server secret means a stolen database alone cannot test guesses.
    """
    return hmac.digest(secret.encode(), plaintext.encode("ascii"), "sha256").hex()  # one-shot: OpenSSL in one call


def display(prefix: str, last4: str) -> str:
    """What people see of a key: enough to recognise it, never enough to use it."""
    return f"{prefix}…{last4}"


def mask(plaintext: str) -> str:
    return display(plaintext[:8], plaintext[-4:])
