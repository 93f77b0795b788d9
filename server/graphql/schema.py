"""Composes each domain's queries and mutations into one schema. Nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql.validation import ValidationRule
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from server.graphql.execution import Executor, FastPath

from server.graphql.keys.mutations import KeyMutation
from server.graphql.limits import max_depth_rule
from server.graphql.members.mutations import MemberMutation
from server.graphql.records.mutations import RecordMutation, create_many, create_one
from server.graphql.records.queries import RecordQuery
from server.graphql.records.types import Record
from server.graphql.safety.mutations import SafetyMutation
from server.graphql.safety.queries import SafetyQuery
from server.graphql.viewer.queries import ViewerQuery
from server.graphql.workspaces.mutations import WorkspaceMutation
from server.graphql.workspaces.queries import WorkspaceQuery
from server.settings import Settings


class Schema(strawberry.Schema):
    executor: Executor  # set by build_schema

    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] = (OperationType.QUERY, OperationType.MUTATION),
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """The one way /graphql and the dashboard run a request: see execution.py."""
        assert query is not None and root_value is None and operation_extensions is None
        return await self.executor.execute(query, variable_values, context_value, operation_name, allowed_operation_types)

    def process_errors(self, errors, execution_context=None) -> None:  # type: ignore[no-untyped-def]
        """Log nothing here: strawberry would log every expected error with the
        query text (partners' data included). graphql/errors.py logs the
        unexpected ones, with a request id."""


@strawberry.type
class Query(ViewerQuery, RecordQuery, WorkspaceQuery, SafetyQuery):
    pass


@strawberry.type
class Mutation(RecordMutation, WorkspaceMutation, KeyMutation, MemberMutation, SafetyMutation):
    pass


def build_schema(settings: Settings) -> Schema:
    # Depth counts introspection fields too: see limits.py.
    rules: list[type[ValidationRule]] = [
        max_depth_rule(settings.max_query_depth),
        max_aliases_rule(settings.max_aliases),
    ]
    schema = Schema(query=Query, mutation=Mutation, config=StrawberryConfig(disable_field_suggestions=True))
    schema.executor = Executor(
        schema._schema, rules, max_tokens=settings.max_tokens, execution_context_class=schema.execution_context_class,
        fast=FastPath(_plain_attributes(schema, Record), _direct_creators(schema)),
    )
    return schema


def _direct_creators(schema: strawberry.Schema) -> dict[str, Any]:
    """The root fields the direct path may answer, with the function each resolver calls.

    The direct path calls these functions itself: a permission class or
    extension added to either field would be skipped there, so it refuses to start.
    """
    creators = {"createRecord": create_one, "createRecords": create_many}
    for field in Mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if schema.config.name_converter.get_graphql_name(field) in creators and _guarded(field):
            raise RuntimeError(f"{field.python_name} has guards the direct path (graphql/fast_path.py) would skip")
    return creators


def _plain_attributes(schema: strawberry.Schema, cls: type) -> dict[str, str]:
    """A strawberry type's fields that are read straight from an attribute: GraphQL name -> Python name."""
    return {
        schema.config.name_converter.get_graphql_name(field): field.python_name
        for field in cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
        if field.base_resolver is None and not _guarded(field)
    }


def _guarded(field: Any) -> bool:
    """Whether strawberry runs something around this field (permissions, extensions, directives) that the direct path would not."""
    return bool(field.permission_classes or field.extensions or field.directives)
