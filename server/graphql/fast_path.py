"""A direct path for the requests partners send most: `createRecord(s)` with variables, plain fields back.

Why: once the key check and the insert were cheap, graphql-core's general
machinery (execution context, variable coercion, field collection, the
serial mutation reducer, completion) and strawberry's resolver wrapping were
more than a third of a createRecord. For a document of exactly this shape
the answer is known without it:

    mutation [Name]($e: ID!, $d: JSON!) { [alias:] createRecord(endpoint: $e, data: $d) { id createdAt … } }
    mutation [Name]($e: ID!, $d: [JSON!]!) { [alias:] createRecords(endpoint: $e, data: $d) { id … } }

`plan_for` recognises the shape once per distinct document (the executor
caches the plan with the parsed document) and accepts nothing else: no
directives, fragments, defaults or literals, only fields of the result type
that are plain attributes (no resolver, no permission class), each serialized
by the schema's own scalar or enum type. Anything else, and any variable
value that is not already what coercion would produce (a string id, a
non-null data, a list without nulls for a batch), goes through graphql-core as before; so does an invalid
document (validation runs first either way). The resolvers' own work is
the same functions (`create_one`, `create_many` in records/mutations.py), and an error is located
and reported exactly as graphql-core does for a non-null root field: no
data, one error at the field's path. tests/test_fast_path.py sends the same
requests both ways and compares the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Awaitable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    located_error,
    print_ast,
)
from strawberry.types import ExecutionResult

# (context, endpoint id, data) -> the created object(s) (strawberry Records)
Create = Callable[[Any, str, Any], Awaitable[Any]]

# Root field -> the declared type of each argument's variable, exactly as written.
SHAPES = {
    "createRecord": {"endpoint": "ID!", "data": "JSON!"},
    "createRecords": {"endpoint": "ID!", "data": "[JSON!]!"},
}


@dataclass(frozen=True, slots=True)
class Plan:
    operation_name: str | None
    root_field: str
    many: bool  # a list of records (createRecords)
    node: FieldNode
    response_key: str
    variables: dict[str, str]  # argument name -> variable name
    fields: tuple[tuple[str, str, Callable[[Any], Any]], ...]  # (response key, attribute, serialize)


def plan_for(schema: GraphQLSchema, document: DocumentNode, plain_attributes: dict[str, str]) -> Plan | None:
    """The plan for a document of exactly one of the shapes above, else None.

    `plain_attributes` maps the result type's GraphQL field names that are
    plain attributes to their Python names (the caller reads them from
    strawberry's type definition).
    """
    if len(document.definitions) != 1:
        return None
    operation = document.definitions[0]
    if not isinstance(operation, OperationDefinitionNode) or operation.operation is not OperationType.MUTATION or operation.directives:
        return None
    declared: dict[str, str] = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None or definition.directives:
            return None
        declared[definition.variable.name.value] = print_ast(definition.type)
    if len(operation.selection_set.selections) != 1:
        return None
    node = operation.selection_set.selections[0]
    if not isinstance(node, FieldNode) or node.name.value not in SHAPES or node.directives or node.selection_set is None:
        return None
    root_field, shape = node.name.value, SHAPES[node.name.value]
    variables: dict[str, str] = {}
    for argument in node.arguments or ():
        name, value = argument.name.value, argument.value
        if name not in shape or not isinstance(value, VariableNode) or declared.get(value.name.value) != shape[name]:
            return None
        variables[name] = value.name.value
    if set(variables) != set(shape) or set(declared) != set(variables.values()):
        return None
    mutation = schema.mutation_type
    assert mutation is not None
    result_type = _object_type(mutation.fields[root_field].type)
    if result_type is None:
        return None
    object_type, many = result_type
    fields = _plain_fields(object_type, node, plain_attributes)
    if fields is None:
        return None
    key = node.alias.value if node.alias else root_field
    return Plan(operation.name.value if operation.name else None, root_field, many, node, key, variables, fields)


def _object_type(output: Any) -> tuple[GraphQLObjectType, bool] | None:
    """`T!` or `[T!]!` for an object type T: (T, is a list); anything else None."""
    if not isinstance(output, GraphQLNonNull):
        return None
    inner, many = output.of_type, False
    if isinstance(inner, GraphQLList):
        if not isinstance(inner.of_type, GraphQLNonNull):
            return None
        inner, many = inner.of_type.of_type, True
    return (inner, many) if isinstance(inner, GraphQLObjectType) else None


def _plain_fields(
    object_type: GraphQLObjectType, node: FieldNode, plain_attributes: dict[str, str]
) -> tuple[tuple[str, str, Callable[[Any], Any]], ...] | None:
    assert node.selection_set is not None
    chosen: list[tuple[str, str, Callable[[Any], Any]]] = []
    keys: set[str] = set()
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments or selection.selection_set is not None:
            return None
        name = selection.name.value
        key = selection.alias.value if selection.alias else name
        if key in keys:
            return None  # merging repeated keys is graphql-core's job
        keys.add(key)
        if name == "__typename":
            chosen.append((key, "", lambda _, type_name=object_type.name: type_name))
            continue
        field = object_type.fields.get(name)
        attribute = plain_attributes.get(name)
        if field is None or attribute is None:
            return None
        if not isinstance(field.type, GraphQLNonNull) or not isinstance(field.type.of_type, (GraphQLScalarType, GraphQLEnumType)):
            return None
        chosen.append((key, attribute, field.type.of_type.serialize))
    return tuple(chosen)


async def run(plan: Plan, variable_values: dict[str, Any] | None, operation_name: str | None, context: Any, create: Create) -> ExecutionResult | None:
    """The answer, or None when these variables need graphql-core (coercion, or its error messages)."""
    if operation_name is not None and operation_name != plan.operation_name:
        return None
    values = variable_values or {}
    endpoint, data = values.get(plan.variables["endpoint"]), values.get(plan.variables["data"])
    if not isinstance(endpoint, str) or data is None:
        return None
    if plan.many and (not isinstance(data, list) or any(item is None for item in data)):
        return None  # graphql-core wraps a single value in a list, and words the null errors
    try:
        created = await create(context, endpoint, data)
    except Exception as error:
        # As graphql-core: the error at the field, and a non-null root field's
        # null makes the whole data null.
        return ExecutionResult(data=None, errors=[located_error(error, [plan.node], [plan.response_key])])
    if plan.many:
        return ExecutionResult(data={plan.response_key: [_answer(plan, one) for one in created]}, errors=None)
    return ExecutionResult(data={plan.response_key: _answer(plan, created)}, errors=None)


def _answer(plan: Plan, created: Any) -> dict[str, Any]:
    return {key: serialize(getattr(created, attribute)) if attribute else serialize(created) for key, attribute, serialize in plan.fields}
