"""Every document the dashboard runs validates against the schema."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from server.dashboard.operations import FOLDER, documents
from server.graphql.schema import build_schema
from server.settings import Settings


def test_operations_exist():
    assert {"Frame", "Keys", "IssueKey", "DeactivateKey", "ReactivateKey"} <= set(documents())


@pytest.mark.parametrize("name", sorted(documents()))
def test_each_operation_validates(name):
    schema = build_schema(Settings())._schema
    errors = validate(schema, parse(documents()[name]))
    assert errors == [], [e.message for e in errors]


def test_every_operation_file_is_loaded():
    loaded = set(documents().values())
    for path in FOLDER.glob("*.graphql"):
        if path.name != "fragments.graphql":
            assert any(text.startswith(path.read_text()) for text in loaded), path.name
