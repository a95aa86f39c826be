"""Which stack holds the security group rules of a call between services of two stacks.

Both rules of a call (the caller's egress, the callee's ingress) refer to both security groups.
aws-cdk-lib keeps them together in one stack (``SecurityGroupBase.determineRuleScope``: a rule
with a peer in another stack goes under the peer), and which stack that is follows from which side
``Connections.allow_to``/``allow_from`` is called on. This module picks that side from the stack
structure alone, so that references only ever point one way between two stacks:

1. a stack nested (at any depth) in the other holds the rules: a child receives its parent's
   values as parameters, which the parent already passes;
2. else a stack that already depends on the other (``add_dependency``, directly or not) holds them;
3. else the stack that comes later in the construct tree holds them (the first stacks to differ
   under their common ancestor are compared by position): later stacks refer to earlier ones,
   never the reverse, however the calls go.

The nested stacks of a :class:`~ecs_service_discovery.constructs.topology.ServiceTopology` are
siblings in the order of their services, so a call between two of them is placed in the later
one, and a call between the parent and a nested stack in the nested one.
"""

from __future__ import annotations

from aws_cdk import Stack
from constructs import IConstruct

# Dependency chains longer than this are not followed (a cycle in declared dependencies is
# CloudFormation's error to report, not a reason to loop).
_MAX_DEPENDENCY_STEPS = 10_000


def rules_stack(caller: Stack, callee: Stack) -> Stack:
    """The stack, ``caller`` or ``callee``, that holds the rules of a call between them."""
    if caller is callee:
        return caller
    if _is_nested_in(caller, callee):
        return caller
    if _is_nested_in(callee, caller):
        return callee
    if _depends_on(caller, callee):
        return caller
    if _depends_on(callee, caller):
        return callee
    return caller if _comes_later(caller, callee) else callee


def _is_nested_in(stack: Stack, ancestor: Stack) -> bool:
    parent = stack.nested_stack_parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.nested_stack_parent
    return False


def _depends_on(stack: Stack, other: Stack) -> bool:
    seen: set[str] = set()
    pending = list(stack.dependencies)
    steps = 0
    while pending and steps < _MAX_DEPENDENCY_STEPS:
        steps += 1
        dependency = pending.pop()
        if dependency is other:
            return True
        if dependency.node.path not in seen:
            seen.add(dependency.node.path)
            pending.extend(dependency.dependencies)
    return False


def _comes_later(first: IConstruct, second: IConstruct) -> bool:
    """True when ``first`` comes after ``second`` in the construct tree (depth-first, in order)."""
    first_path = first.node.scopes
    second_path = second.node.scopes
    for mine, theirs in zip(first_path, second_path, strict=False):
        if mine is theirs:
            continue
        parent = mine.node.scope
        assert parent is not None  # the roots are the same construct: only children differ
        children = parent.node.children
        return _index(children, mine) > _index(children, theirs)
    # One is an ancestor of the other: the deeper one comes later.
    return len(first_path) > len(second_path)


def _index(children: list[IConstruct], child: IConstruct) -> int:
    return next(index for index, candidate in enumerate(children) if candidate is child)
