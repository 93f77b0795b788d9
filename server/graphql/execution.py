"""Executing a request: one parse and one validation per distinct document, then graphql-core.

strawberry's `Schema.execute` runs its extension hooks on every request, even
when its parser and validation caches hit: about 0.7 ms a request here (a
`{ __typename }` costs 0.9 ms through it and 0.2 ms through graphql-core), more
than the key check and the insert of a record together. So a document is
prepared once — parsed under the token limit, its operations' types read,
validated with the same rules strawberry would use (ours included) — and kept
in a small LRU cache keyed by its text; each request then only picks its
operation and calls graphql-core's `execute` with strawberry's own execution
context class, exactly as strawberry itself does after its hooks.

Cached `GraphQLError`s are shared between requests that send the same broken
document; nothing mutates them after preparation (graphql/errors.py only reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError, GraphQLSchema, StringValueNode, Visitor, execute, parse, specified_rules, validate, visit
from graphql.validation import ASTValidationRule
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_operation_type

from server.errors import ValidationFailed
from server.graphql import fast_path

CACHED_DOCUMENTS = 256

# PostgreSQL cannot store U+0000 in text or jsonb (SQLite can): refused up front
# on every engine, so the same input gets the same answer everywhere.
NUL = "\x00"
NO_NUL = "Text may not contain the NUL character (U+0000)."


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode | None  # None: it did not parse
    errors: tuple[GraphQLError, ...]  # parse or validation errors
    plan: fast_path.Plan | None = None  # a valid createRecord(s) of the direct path's shape


@dataclass(frozen=True, slots=True)
class FastPath:
    """What the direct path needs from the schema (built in schema.py)."""

    plain_attributes: dict[str, str]  # the result type's plain fields: GraphQL name -> attribute
    creators: dict[str, fast_path.Create]  # root field -> the function its resolver calls


class Executor:
    def __init__(
        self,
        schema: GraphQLSchema,
        rules: Sequence[type[ASTValidationRule]],
        *,
        max_tokens: int,
        execution_context_class: type[Any],
        fast: FastPath | None = None,
    ) -> None:
        self.schema = schema
        self.fast = fast
        # The order strawberry uses: graphql-core's rules, the extra ones, then its own two.
        self.rules = (*specified_rules, *rules, MaybeNullValidationRule, OneOfInputValidationRule)
        self.max_tokens = max_tokens
        self.execution_context_class = execution_context_class
        self.prepare = lru_cache(maxsize=CACHED_DOCUMENTS)(self._prepare)

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return Prepared(None, (error,))
        # No "Did you mean …?" hints: they map the schema for anyone without a key
        # (wider than strawberry's disable_field_suggestions, which covers fields only).
        errors = validate(self.schema, document, self.rules, hide_suggestions=True)
        nul = _nul_string(document)
        if nul is not None:
            errors.append(GraphQLError(NO_NUL, nul, original_error=ValidationFailed(NO_NUL)))
        plan = None if errors or self.fast is None else fast_path.plan_for(self.schema, document, self.fast.plain_attributes)
        return Prepared(document, tuple(errors), plan)

    async def execute(
        self,
        query: str,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        operation_name: str | None,
        allowed_operation_types: Iterable[OperationType],
    ) -> ExecutionResult:
        prepared = self.prepare(query)
        if prepared.document is None:
            return ExecutionResult(data=None, errors=list(prepared.errors))
        try:
            operation_type = get_operation_type(prepared.document, operation_name)
        except RuntimeError as error:
            raise CannotGetOperationTypeError(operation_name) from error
        if operation_type not in allowed_operation_types:
            raise InvalidOperationTypeError(operation_type)
        if prepared.errors:
            return ExecutionResult(data=None, errors=list(prepared.errors))
        if variable_values and _has_nul(variable_values):
            return ExecutionResult(data=None, errors=[GraphQLError(NO_NUL, original_error=ValidationFailed(NO_NUL))])
        if prepared.plan is not None and self.fast is not None:
            direct = await fast_path.run(prepared.plan, variable_values, operation_name, context_value, self.fast.creators[prepared.plan.root_field])
            if direct is not None:
                return direct
        result = execute(
            self.schema,
            prepared.document,
            variable_values=variable_values,
            operation_name=operation_name,
            context_value=context_value,
            is_awaitable=optimized_is_awaitable,
            executor_class=self.execution_context_class,
            hide_suggestions=True,
        )
        if optimized_is_awaitable(result):
            result = await result
        return ExecutionResult(data=result.data, errors=result.errors)


class _FindNul(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: StringValueNode | None = None

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if self.found is None and NUL in node.value:
            self.found = node


def _nul_string(document: DocumentNode) -> StringValueNode | None:
    finder = _FindNul()
    visit(document, finder)
    return finder.found


def _has_nul(variables: dict[str, Any]) -> bool:
    # orjson writes U+0000 as \u0000: most requests hold none, and that is
    # found in C; a match (perhaps only an escaped backslash before "u0000")
    # is settled by the walk.
    try:
        if b"\\u0000" not in orjson.dumps(variables):
            return False
    except orjson.JSONEncodeError:
        pass
    return _holds_nul(variables)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(NUL in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False
