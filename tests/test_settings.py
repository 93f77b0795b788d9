"""Settings from the environment, the secret file, and the README documenting each setting."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.settings import SECRET_FILE_NAME, Settings, env_names, resolve_secret_key

ROOT = Path(__file__).resolve().parents[1]


def test_reads_prefixed_variables_with_types():
    settings = Settings.from_env({"THREEMIN_PORT": "9000", "THREEMIN_DATABASE_URL": "sqlite:///tmp/x.sqlite3", "OTHER": "1"})
    assert settings.port == 9000 and settings.database_url == "sqlite:///tmp/x.sqlite3"
    assert Settings.from_env({}).port == 8000


def test_a_bad_value_names_the_variable():
    with pytest.raises(SystemExit, match="THREEMIN_PORT"):
        Settings.from_env({"THREEMIN_PORT": "eighty"})


def test_secret_key_is_not_in_repr():
    assert "hunter2" not in repr(Settings(secret_key="hunter2"))


def test_secret_file_is_created_once_private_and_reused(tmp_path, capsys):
    settings = Settings(database_url=f"sqlite://{tmp_path / 'data' / 'db.sqlite3'}")
    first = resolve_secret_key(settings)
    path = tmp_path / "data" / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "THREEMIN_SECRET_KEY is not set" in capsys.readouterr().err
    again = resolve_secret_key(settings)
    assert first.secret_key == again.secret_key and len(first.secret_key) >= 48
    assert capsys.readouterr().err == ""  # no second warning: nothing new was created


def test_an_explicit_secret_wins_and_writes_no_file(tmp_path):
    settings = Settings(database_url=f"sqlite://{tmp_path / 'db.sqlite3'}", secret_key="given")
    assert resolve_secret_key(settings).secret_key == "given"
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in env_names() if f"`{name}`" not in readme]
    assert not missing, f"document these in README.md: {missing}"


# --- start-up checks: every bad value is named, with what it expects -----------------------


def problems(environ: dict[str, str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env(environ)
    return str(stopped.value.code)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("THREEMIN_FAST_PASSWORD_HASHING", "maybe", "true or false"),
        ("THREEMIN_PORT", "70000", "from 1 to 65535"),
        ("THREEMIN_PORT", "0", "from 1 to 65535"),
        ("THREEMIN_KEY_RATE_LIMIT", "-1", "at least 0"),
        ("THREEMIN_MAX_PAGE_SIZE", "0", "at least 1"),
        ("THREEMIN_MAX_BODY_BYTES", "1.5", "a whole number"),
        ("THREEMIN_LAST_USED_FLUSH_SECONDS", "nan", "a number of at least 0.1"),
        ("THREEMIN_LOG_LEVEL", "verbose", "debug or info or warning or error or critical"),
        ("THREEMIN_LOG_FORMAT", "xml", "json or text"),
        ("THREEMIN_PUBLIC_URL", "threemin.example.com", "an http:// or https:// address"),
        ("THREEMIN_GITHUB_SCANNING_KEYS_FILE", "/no/such/keys.json", "an existing file"),
        ("THREEMIN_DATABASE_URL", "postgres://user@host", "a host, a valid port if any, and a database name"),
        ("THREEMIN_DATABASE_URL", "sqlite:/missing-slash.sqlite3", "sqlite://PATH or postgres://"),
    ],
)
def test_a_malformed_value_stops_the_start_naming_the_variable_and_what_it_expects(name, value, expected):
    message = problems({name: value})
    assert f"{name}: expected" in message and expected in message


def test_an_unknown_database_kind_is_named_but_the_url_not_repeated():
    message = problems({"THREEMIN_DATABASE_URL": "mysql://admin:hunter2@db.internal/threemin"})
    assert "THREEMIN_DATABASE_URL" in message and "'mysql' is not one threemin supports" in message
    assert "hunter2" not in message and "db.internal" not in message


def test_secrets_are_never_echoed_in_a_refusal():
    message = problems({"THREEMIN_METRICS_TOKEN": "short-secret"})
    assert "THREEMIN_METRICS_TOKEN: expected at least 16 characters" in message and "short-secret" not in message


def test_an_unknown_variable_is_a_likely_typo_with_a_suggestion():
    message = problems({"THREEMIN_MAX_PAGESIZE": "50"})
    assert "THREEMIN_MAX_PAGESIZE: not a threemin setting. Did you mean THREEMIN_MAX_PAGE_SIZE?" in message
    far = problems({"THREEMIN_COLOUR_SCHEME": "dark"})
    assert "THREEMIN_COLOUR_SCHEME: not a threemin setting. See the Configuration table" in far and "Did you mean" not in far


def test_every_problem_is_reported_at_once():
    message = problems({"THREEMIN_PORT": "eighty", "THREEMIN_LOG_FORMAT": "xml", "THREEMIN_SECRETKEY": "x"})
    assert all(name in message for name in ("THREEMIN_PORT", "THREEMIN_LOG_FORMAT", "THREEMIN_SECRETKEY"))


def test_good_values_and_variables_that_are_not_settings_are_accepted(tmp_path):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text("{}")
    settings = Settings.from_env(
        {
            "THREEMIN_DATABASE_URL": "postgres://threemin:pw@db:5432/threemin",
            "THREEMIN_PORT": "65535",
            "THREEMIN_KEY_RATE_LIMIT": "0",
            "THREEMIN_LOG_LEVEL": "WARNING",
            "THREEMIN_LOG_FORMAT": "text",
            "THREEMIN_PUBLIC_URL": "https://threemin.example.com",
            "THREEMIN_GITHUB_SCANNING_KEYS_FILE": str(keys_file),
            "THREEMIN_METRICS_TOKEN": "0123456789abcdef",
            "THREEMIN_FAST_PASSWORD_HASHING": "off",
            # Read by createuser, by a partner's shell and by the test suite: not typos.
            "THREEMIN_PASSWORD": "x",
            "THREEMIN_KEY": "tm_test_x",
            "THREEMIN_TEST_DATABASE_URL": "postgres://u@h/d",
        }
    )
    assert (settings.port, settings.key_rate_limit, settings.log_level, settings.log_format) == (65535, 0, "warning", "text")
    assert settings.metrics_token == "0123456789abcdef" and settings.fast_password_hashing is False


def test_the_cli_stops_with_the_message_before_doing_anything(tmp_path):
    import os
    import subprocess

    from tests.test_cli import THREEMIN

    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    env["THREEMIN_SESSION_IDLE_MINUTS"] = "30"
    result = subprocess.run([THREEMIN, "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "THREEMIN_SESSION_IDLE_MINUTS: not a threemin setting. Did you mean THREEMIN_SESSION_IDLE_MINUTES?" in result.stderr
    assert not list(tmp_path.iterdir())  # no database was created
