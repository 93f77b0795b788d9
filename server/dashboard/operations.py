"""The GraphQL documents the dashboard runs, from web/operations/*.graphql.

Each file holds named operations of one screen; a handler runs one by name.
They go through `schema.execute` with the same Context as /graphql, so a page
can do nothing the API would refuse; a test validates every document.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from graphql import OperationDefinitionNode, parse

import web

FOLDER = Path(web.__file__).parent / "operations"


@cache
def documents() -> dict[str, str]:
    """Operation name -> the text of the file that defines it (fragments included)."""
    found: dict[str, str] = {}
    for path in sorted(FOLDER.glob("*.graphql")):
        text = path.read_text()
        for definition in parse(text).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                name = definition.name.value
                if name in found:
                    raise ValueError(f"operation {name} is defined twice in web/operations")
                found[name] = text
    return found


def document(name: str) -> str:
    return documents()[name]
