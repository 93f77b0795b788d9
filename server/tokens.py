"""One-time and session tokens: random, shown once, stored only as an HMAC.

Used for session cookies, invitation and setup links, and claim links. Each
purpose hashes under its own label, so a token of one kind can never be
replayed as another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def hash_token(token: str, secret: str, purpose: str) -> str:
    return hmac.new(f"{purpose}:{secret}".encode(), token.encode(), hashlib.sha256).hexdigest()
