"""Reading THREEMIN_* variables into Settings values, and refusing bad ones at start.

Every problem names its variable and says what it expects. A secret (the key
secret, the metrics token, a database password) is never echoed back: start-up
errors end up in service logs. Values that parse but make no sense (a negative
limit, port 70000, a database URL of an unknown kind, an unknown THREEMIN_*
variable, most likely a typo) are refused too, rather than found later.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "THREEMIN_"

# THREEMIN_* variables that are not settings of the server: they must not be
# taken for typos.
NOT_SETTINGS = {
    "THREEMIN_PASSWORD",  # createuser's password for scripts (README)
    "THREEMIN_KEY",  # a partner's key in a shell, as the README's curl examples use it
}
NOT_SETTINGS_PREFIXES = ("THREEMIN_TEST_",)  # the test suite's own (tests/postgres.py)

# Smallest accepted value, where it is not 0; every number must be >= 0.
MINIMUM: dict[str, float] = {
    "port": 1,
    "max_body_bytes": 1,
    "max_record_bytes": 1,
    "max_batch_records": 1,
    "max_page_size": 1,
    "max_query_depth": 1,
    "max_aliases": 1,
    "max_tokens": 1,
    "last_used_flush_seconds": 0.1,
    "session_idle_minutes": 1,
    "session_max_hours": 1,
    "claim_link_hours": 1,
    "invitation_hours": 1,
}
MAXIMUM: dict[str, float] = {"port": 65535}
CHOICES: dict[str, tuple[str, ...]] = {
    "log_level": ("debug", "info", "warning", "error", "critical"),
    "log_format": ("json", "text"),
}
SECRETS = frozenset({"secret_key", "metrics_token"})
MIN_TOKEN_LENGTH = 16
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "asyncpg", "psycopg")


class Refused(ValueError):
    """A value that cannot be used; the message says what is expected."""


def check_all(settings_class: type, environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(values for the settings class, problems). Empty variables count as unset."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    fields = {PREFIX + field.name.upper(): field for field in dataclasses.fields(settings_class)}
    for name in sorted(environ):
        if name.startswith(PREFIX) and name not in fields and not _not_a_setting(name):
            guess = difflib.get_close_matches(name, fields, n=1, cutoff=0.75)
            hint = f" Did you mean {guess[0]}?" if guess else " See the Configuration table in README.md."
            problems.append(f"{name}: not a threemin setting.{hint}")
    for name, field in fields.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[field.name] = check(field.name, field.default, raw)
        except Refused as refused:
            shown = "" if field.name in SECRETS or field.name == "database_url" else f", got {raw!r}"
            problems.append(f"{name}: expected {refused}{shown}")
    return values, problems


def check(name: str, default: Any, raw: str) -> Any:
    """The value of one setting from its text, or Refused."""
    kind = type(default)
    if kind is bool:
        return _boolean(raw)
    if kind in (int, float):
        return _number(name, kind, raw)
    value = raw.strip()
    if name in CHOICES:
        if value.lower() not in CHOICES[name]:
            raise Refused(" or ".join(CHOICES[name]))
        return value.lower()
    special = _SPECIAL.get(name)
    return special(value) if special else value


def _not_a_setting(name: str) -> bool:
    return name in NOT_SETTINGS or name.startswith(NOT_SETTINGS_PREFIXES)


def _boolean(raw: str) -> bool:
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise Refused("true or false (also 1/0, yes/no, on/off)")


def _number(name: str, kind: type, raw: str) -> int | float:
    low, high = MINIMUM.get(name, 0), MAXIMUM.get(name)
    what = "a whole number" if kind is int else "a number"
    bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
    try:
        value = kind(raw.strip())
    except ValueError:
        raise Refused(f"{what} {bounds}") from None
    if (isinstance(value, float) and not math.isfinite(value)) or value < low or (high is not None and value > high):
        raise Refused(f"{what} {bounds}")
    return value


def _database_url(value: str) -> str:
    expected = "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    scheme, _, rest = value.partition("://")
    if not rest or scheme.lower() not in DATABASE_SCHEMES:
        # Only the scheme is repeated: the rest may hold a password.
        raise Refused(f"{expected} (the URL's kind {scheme.split(':', 1)[0][:20]!r} is not one threemin supports)" if rest else expected)
    if scheme.lower() != "sqlite":
        try:
            parts = urlsplit(value)
            usable = bool(parts.hostname and parts.path.strip("/")) and (parts.port is None or parts.port > 0)
        except ValueError:  # a port that is no number or over 65535, a broken IPv6 address
            usable = False
        if not usable:
            raise Refused(f"{expected} (a host, a valid port if any, and a database name)")
    return value


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise Refused("an http:// or https:// address such as https://threemin.example.com (no query, no #)")
    return value


def _existing_file(value: str) -> str:
    if not Path(value).expanduser().is_file():
        raise Refused("the path of an existing file")
    return value


def _token(value: str) -> str:
    if len(value) < MIN_TOKEN_LENGTH:
        raise Refused(f"at least {MIN_TOKEN_LENGTH} characters (a long random value: openssl rand -hex 32)")
    return value


_SPECIAL: dict[str, Callable[[str], str]] = {
    "database_url": _database_url,
    "public_url": _public_url,
    "github_scanning_keys_file": _existing_file,
    "metrics_token": _token,
}
