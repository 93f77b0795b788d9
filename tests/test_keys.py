"""The key format: generation, checksum, parsing and hashing (no database)."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import keys
from server.errors import Unauthenticated
from server.keys import ALPHABET, Environment
from server.services.verification import principal_for

environments = st.sampled_from(list(Environment))
# Hypothesis draws the random part itself so that failures replay exactly.
any_key = st.builds(keys.assemble, environments, st.text(ALPHABET, min_size=30, max_size=30))


def test_format_matches_design():
    key = keys.generate(Environment.LIVE)
    assert len(key) == 44 and key.startswith("tm_live_")
    assert re.fullmatch(r"tm_live_[0-9A-Za-z]{36}", key)
    body = key[:-6]
    crc = zlib.crc32(body.encode())
    # base62, most significant digit first, left-padded with 0
    digits, number = [], crc
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    assert key[-6:] == "".join(reversed(digits)).rjust(6, "0")


def test_base62_pads_small_values():
    assert keys.base62(0, 6) == "000000"
    assert keys.base62(61, 6) == "00000z"
    assert keys.base62(62, 6) == "000010"


@given(environments)
def test_every_generated_key_parses(environment):
    key = keys.generate(environment)
    parsed = keys.parse(key)
    assert parsed is not None and parsed.environment is environment and parsed.last4 == key[-4:]
    assert keys.PATTERN.fullmatch(key)


@given(any_key)
def test_every_assembled_key_parses(key):
    assert keys.parse(key) is not None


@settings(max_examples=300)
@given(any_key, st.data())
def test_every_single_character_change_is_rejected(key, data):
    position = data.draw(st.integers(0, len(key) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET + "_-").filter(lambda c: c != key[position]))
    assert keys.parse(key[:position] + replacement + key[position + 1 :]) is None


@given(st.text(max_size=60))
def test_random_text_is_not_a_key(text):
    # A random string of the right shape passes CRC32 about once in 4 billion.
    assert keys.parse(text) is None or keys.parse(text).plaintext == text


async def test_rejected_before_any_database_lookup():
    # No database is open in this test: a lookup would raise RuntimeError, so
    # getting Unauthenticated proves the checksum refused the key first.
    key = keys.generate(Environment.TEST)
    broken = key[:-1] + ("0" if key[-1] != "0" else "1")
    for candidate in (broken, "tm_test_short", "", "tm_prod_" + key[8:], key.upper()):
        with pytest.raises(Unauthenticated):
            await principal_for(candidate, "secret", datetime.now(UTC))


def test_hash_depends_on_secret_and_never_contains_key():
    key = keys.generate(Environment.TEST)
    first, second = keys.hash_key(key, "one"), keys.hash_key(key, "two")
    assert first != second and len(first) == 64 and key not in first


def test_display_shows_only_prefix_and_last_four():
    key = keys.generate(Environment.TEST)
    assert keys.mask(key) == f"tm_test_…{key[-4:]}"
    assert key[8:-4] not in keys.mask(key)


def test_scanner_pattern_finds_keys_in_text():
    key = keys.generate(Environment.LIVE)
    text = f'config = {{"token": "{key}"}}\nother=tm_live_tooshort'
    assert [m.group(0) for m in keys.PATTERN.finditer(text)] == [key]


def test_public_ids_are_prefixed_random_base62():
    from server.ids import LENGTH, record_id

    made = {record_id() for _ in range(2000)}
    assert len(made) == 2000
    assert all(re.fullmatch(rf"rec_[0-9A-Za-z]{{{LENGTH}}}", ident) for ident in made)
    # Every position uses the whole alphabet (no constant or sequential part).
    assert all(len({ident[4 + i] for ident in made}) > 40 for i in range(LENGTH))
