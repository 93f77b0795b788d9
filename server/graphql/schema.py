"""Composes each domain's queries and mutations into one schema. Nothing else."""

from __future__ import annotations

import strawberry
from graphql.validation import ValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.schema.config import StrawberryConfig

from server.graphql.keys.mutations import KeyMutation
from server.graphql.limits import max_depth_rule
from server.graphql.members.mutations import MemberMutation
from server.graphql.records.mutations import RecordMutation
from server.graphql.records.queries import RecordQuery
from server.graphql.safety.mutations import SafetyMutation
from server.graphql.safety.queries import SafetyQuery
from server.graphql.viewer.queries import ViewerQuery
from server.graphql.workspaces.mutations import WorkspaceMutation
from server.graphql.workspaces.queries import WorkspaceQuery
from server.settings import Settings


class Schema(strawberry.Schema):
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
    # The rules are built once and passed as the same classes on every request,
    # so the validation cache (keyed by the rules) really hits; the limiter
    # extensions would build new classes per request (strawberry #4635).
    # Depth counts introspection fields too: see limits.py.
    rules: list[type[ValidationRule]] = [
        max_depth_rule(settings.max_query_depth),
        max_aliases_rule(settings.max_aliases),
    ]
    return Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(disable_field_suggestions=True),
        extensions=[
            lambda: MaxTokensLimiter(settings.max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=256),
        ],
    )
