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
