"""Validation rules that bound the work one document can ask for.

strawberry's depth limiter skips every introspection field, and
`__type { fields { type { fields … } } }` nests without end, so the depth
rule here counts all fields. The limit leaves room for GraphiQL's own
introspection query (depth 14).
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)


def max_depth_rule(max_depth: int) -> type[ValidationRule]:
    class MaxDepth(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: object) -> None:
            fragments = {
                d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            depth = _depth(node.selection_set, fragments, frozenset(), 0, max_depth)
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                self.report_error(GraphQLError(f"'{name}' exceeds maximum operation depth of {max_depth}", node))

    return MaxDepth


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
    depth: int,
    limit: int,
) -> int:
    if selection_set is None or depth > limit:  # stop early: the answer is already "too deep"
        return depth
    deepest = depth
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            found = _depth(selection.selection_set, fragments, seen, depth + 1, limit) if selection.selection_set else depth
        elif isinstance(selection, InlineFragmentNode):
            found = _depth(selection.selection_set, fragments, seen, depth, limit)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments and selection.name.value not in seen:
            name = selection.name.value
            found = _depth(fragments[name].selection_set, fragments, seen | {name}, depth, limit)
        else:
            found = depth
        deepest = max(deepest, found)
    return deepest
