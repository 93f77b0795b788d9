"""Public ids: prefix, 20 base62 characters, every character equally likely."""

from __future__ import annotations

import re
from collections import Counter

from server import ids
from server.keys import ALPHABET


def test_an_id_is_its_prefix_and_twenty_base62_characters_and_ids_do_not_repeat():
    made = [ids.record_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"rec_[0-9A-Za-z]{20}", one) for one in made)
    assert len(set(made)) == len(made)


def test_every_base62_character_is_equally_likely():
    counts = Counter(character for _ in range(10_000) for character in ids.new_id("x")[2:])
    expected = 10_000 * 20 / len(ALPHABET)  # ~3,226 each; one standard deviation is ~56
    assert set(counts) == set(ALPHABET)
    assert all(abs(count - expected) < 0.15 * expected for count in counts.values()), counts


def test_a_draw_with_too_many_unusable_bytes_is_drawn_again(monkeypatch):
    draws = iter([bytes([255] * 9 + [0] * 19), bytes(range(28))])
    monkeypatch.setattr(ids.secrets, "token_bytes", lambda n: next(draws))
    assert ids.new_id("rec") == "rec_" + ALPHABET[:20]  # the second draw: bytes 0..19 are characters 0..19
