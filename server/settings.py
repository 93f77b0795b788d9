"""Settings: one frozen object read from THREEMIN_* environment variables.

Nothing here runs at import time. `Settings.from_env()` reads the environment;
tests build `Settings(...)` directly. Every field is documented in the README
(a test checks that), so an operator never has to read this file.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from server.setting_checks import PREFIX, check_all

DEFAULT_SQLITE_FILE = "threemin.sqlite3"
SECRET_FILE_NAME = "threemin.secret"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = f"sqlite://{DEFAULT_SQLITE_FILE}"
    # HMAC secret for key hashes. Empty means "use the secret file beside the
    # database" (see resolve_secret_key); it is never given a default value.
    secret_key: str = dataclasses.field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    max_body_bytes: int = 1024 * 1024
    max_record_bytes: int = 64 * 1024
    max_batch_records: int = 1000
    max_page_size: int = 200
    max_query_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 5000
    # Seconds one /graphql request may take, reading its body included, so that a
    # slow client or a stuck query cannot hold a worker. 0: no limit.
    request_timeout_seconds: float = 30.0
    last_used_flush_seconds: float = 5.0
    # Requests per minute; 0 turns a limit off. A key's own limit overrides the first.
    key_rate_limit: int = 600
    partner_rate_limit: int = 1200
    # Sign-in attempts per 15 minutes, per account and per source address.
    sign_in_limit_per_account: int = 10
    sign_in_limit_per_address: int = 100
    # Where people reach the service; links printed or shown (setup,
    # invitations, claim links) start with it. Empty: http://HOST:PORT.
    public_url: str = ""
    session_idle_minutes: int = 12 * 60
    session_max_hours: int = 7 * 24
    claim_link_hours: int = 72
    invitation_hours: int = 72
    # GitHub's secret-scanning public keys, saved by the operator as a JSON file
    # (see leak_report.py). Empty: leak reports are refused, none can verify.
    github_scanning_keys_file: str = ""
    # Only for the test suite: argon2's cheapest profile instead of ~0.2 s per hash.
    fast_password_hashing: bool = False
    # One JSON object per log line (for a log shipper), or text for a person at a terminal.
    log_format: str = "json"
    # Bearer token Prometheus must send for /metrics. Empty: /metrics does not exist.
    metrics_token: str = dataclasses.field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings, or SystemExit listing every bad variable by name and what it expects.

        Checked here, at start, rather than where a value is first used: a typo
        found by the first partner request at 3 a.m. is an outage.
        """
        environ = os.environ if environ is None else environ
        values, problems = check_all(cls, environ)
        if problems:
            raise SystemExit("threemin: bad settings\n" + "\n".join(f"  {problem}" for problem in problems))
        return cls(**values)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @property
    def data_dir(self) -> Path:
        """The folder that holds the SQLite file (or the working directory otherwise)."""
        if self.is_sqlite:
            path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
            if path and path != ":memory:":
                return Path(path).expanduser().resolve().parent
        return Path.cwd()


def env_names() -> list[str]:
    return [PREFIX + field.name.upper() for field in dataclasses.fields(Settings)]


def resolve_secret_key(settings: Settings, *, create: bool = True) -> Settings:
    """Return settings whose secret_key is set.

    Without THREEMIN_SECRET_KEY, a random secret is created once in a file beside
    the database (mode 0600) and reused afterwards: key hashes depend on it, so a
    new secret on every start would lock every partner out.
    """
    if settings.secret_key:
        return settings
    path = settings.data_dir / SECRET_FILE_NAME
    if path.exists():
        return settings.replace(secret_key=path.read_text().strip())
    if not create:
        raise SystemExit(f"No {PREFIX}SECRET_KEY and no secret file at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not write two different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return settings.replace(secret_key=path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    print(
        f"warning: {PREFIX}SECRET_KEY is not set; created a random secret in {path} (mode 0600).\n"
        "         Back it up with the database: keys cannot be verified without it.",
        file=sys.stderr,
    )
    return settings.replace(secret_key=secret)
