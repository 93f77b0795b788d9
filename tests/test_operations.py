"""Every document the dashboard runs validates against the schema."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from server.dashboard.operations import FOLDER, documents
from server.graphql.schema import build_schema
from server.settings import Settings


def test_operations_exist():
    assert {"Frame", "Keys", "IssueKey", "DeactivateKey", "ReactivateKey"} <= set(documents())


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.graphql")), ids=lambda p: p.name)
def test_each_operation_file_validates(path):
    schema = build_schema(Settings())._schema
    errors = validate(schema, parse(path.read_text()))
    assert errors == [], [e.message for e in errors]
