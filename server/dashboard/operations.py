"""The GraphQL documents the dashboard runs, from web/operations/*.graphql.

Each file holds named operations of one screen; a handler runs one by name.
They go through `schema.execute` with the same Context as /graphql, so a page
can do nothing the API would refuse; a test validates every document.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, print_ast

import web

FOLDER = Path(web.__file__).parent / "operations"


SHARED = FOLDER / "fragments.graphql"
SPREAD = re.compile(r"\.\.\.\s*([_A-Za-z][_0-9A-Za-z]*)")


def _with_shared_fragments(text: str, shared: dict[str, str]) -> str:
    """The file's text plus each shared fragment it spreads, directly or through another.

    Only those: GraphQL refuses a document with a fragment nobody uses.
    """
    needed: list[str] = []
    pending = SPREAD.findall(text)
    while pending:
        name = pending.pop()
        if name in shared and name not in needed:
            needed.append(name)
            pending.extend(SPREAD.findall(shared[name]))
    return "\n".join([text, *(shared[name] for name in needed)])


@cache
def documents() -> dict[str, str]:
    """Operation name -> the document to run it: its file and the shared fragments it uses."""
    shared = {
        d.name.value: print_ast(d) for d in parse(SHARED.read_text()).definitions if isinstance(d, FragmentDefinitionNode)
    }
    found: dict[str, str] = {}
    for path in sorted(FOLDER.glob("*.graphql")):
        if path == SHARED:
            continue
        text = _with_shared_fragments(path.read_text(), shared)
        for definition in parse(text).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                name = definition.name.value
                if name in found:
                    raise ValueError(f"operation {name} is defined twice in web/operations")
                found[name] = text
    return found


def document(name: str) -> str:
    return documents()[name]
