"""On SQLite (WAL) a key is verified by a read on the event loop's own thread (db.LoopReader).

What a user relies on: the read sees every commit at once, so a key
deactivated through any connection is refused on its very next request; and
where such a read is not safe (not WAL, a busy file, PostgreSQL) verification
goes through the ordinary connection and works the same.
"""

from __future__ import annotations

import sqlite3

import pytest
from tortoise.context import require_context

from server.db import LoopReader, loop_reader
from server.models import ApiKey
from tests.conftest import gql, key_id
from tests.postgres import ON_POSTGRES, sqlite_only

VIEWER = "{ viewer { kind } }"


@sqlite_only("the loop reader is SQLite's")
async def test_a_key_is_verified_without_a_trip_to_the_database_thread(client, world, sent_statements):
    assert loop_reader(require_context().db()) is not None
    response = await gql(client, world.a.keys["test"], VIEWER)
    assert response.status_code == 200 and response.json()["data"] == {"viewer": {"kind": "KEY"}}
    assert not [sql for sql in sent_statements if "api_key" in sql]


async def test_a_key_deactivated_by_another_connection_is_refused_on_its_next_request(client, world, settings):
    key = world.a.keys["test"]
    assert (await gql(client, key, VIEWER)).status_code == 200
    if ON_POSTGRES:
        await ApiKey.filter(id=await key_id(key)).update(active=False)
    else:  # another process's connection, as the threemin CLI would be
        other = sqlite3.connect(settings.database_url.removeprefix("sqlite://"))
        other.execute("UPDATE api_key SET active = 0 WHERE id = ?", (await key_id(key),))
        other.commit()
        other.close()
    response = await gql(client, key, VIEWER)
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "KEY_DISABLED"


@sqlite_only("journal modes are SQLite's")
async def test_without_wal_keys_are_read_through_the_ordinary_connection(client, world, sent_statements):
    connection = require_context().db()
    await connection.execute_script("PRAGMA journal_mode = DELETE")
    from server import db

    db._readers.pop(connection, None)  # decided again for the new mode
    assert loop_reader(connection) is None
    assert (await gql(client, world.a.keys["test"], VIEWER)).status_code == 200
    assert [sql for sql in sent_statements if "api_key" in sql]


@sqlite_only("the loop reader is SQLite's")
async def test_a_read_the_loop_cannot_make_at_once_goes_through_the_ordinary_connection(client, world, sent_statements, monkeypatch):
    monkeypatch.setattr(LoopReader, "rows", lambda self, sql, params: None)  # as when the file is busy
    assert (await gql(client, world.a.keys["test"], VIEWER)).status_code == 200
    assert [sql for sql in sent_statements if "api_key" in sql]


@sqlite_only("the loop reader is SQLite's")
async def test_the_loop_reader_cannot_write(db):
    reader = loop_reader(require_context().db())
    assert reader is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.connection.execute("DELETE FROM api_key")


@sqlite_only("the loop reader is SQLite's")
def test_the_reader_opens_the_path_as_aiosqlite_does_and_gives_up_quietly_on_one_it_cannot(settings, tmp_path):
    """sqlite:////abs/file gives tortoise the path //abs/file: valid on POSIX, and read alike."""
    path = settings.database_url.removeprefix("sqlite://")
    reader = LoopReader("/" + path)
    assert reader.rows("SELECT count(*) FROM api_key", ()) == [(0,)]

    class Client:  # what loop_reader reads of a tortoise client
        filename = str(tmp_path / "no such folder" / "threemin.sqlite3")

        class capabilities:
            dialect = "sqlite"

    assert loop_reader(Client()) is None  # the lookup then goes through aiosqlite
