"""What the rules read: a resource as CloudFormation receives it, beside the other resources of its template.

A rule reads this view, not the L1 object, so that one rule serves L1 resources, L2
constructs and templates brought in with ``CfnInclude`` alike. The view comes from the
synthesized template file when there is one for the current construct tree (the pack
runs as a policy validation plugin after synthesis, or after ``app.synth()``), so it
holds raw overrides (``add_property_override``) too. Before synthesis it is rendered
from the L1 properties, as cdk-nag's own rules see them: without raw overrides.

Values are what ``Stack.resolve`` gives: literals, or intrinsic functions (``Ref``,
``Fn::GetAtt``, ``Fn::Join`` ...) for what is only known at deploy time. Rules decide
on what they can see and never raise on the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aws_cdk import CfnResource, Stack, Stage
from constructs import IConstruct

_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")

#: One template's resources: logical ID -> {"Type": ..., "Properties": {...}, ...}.
Resources = Mapping[str, Mapping[str, Any]]


def number(value: Any) -> float | None:
    """A non-negative number in a template (CloudFormation also accepts "30" for 30); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return None


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is an object, else an empty one (absent, or an intrinsic such as ``Fn::If``)."""
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list property; an absent or unresolved list has none."""
    if not isinstance(value, list):
        return []
    return [cast(Mapping[str, Any], item) for item in cast(list[Any], value) if isinstance(item, Mapping)]


def referenced_logical_id(value: Any) -> str | None:
    """The logical ID that ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attribute]}`` points to."""
    if not isinstance(value, Mapping) or len(cast(Mapping[str, Any], value)) != 1:
        return None
    ((function, argument),) = cast(Mapping[str, Any], value).items()
    if function == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
        return argument
    if function == "Fn::GetAtt":
        if isinstance(argument, list) and argument and isinstance(argument[0], str):
            return argument[0]
        if isinstance(argument, str):
            return argument.split(".", 1)[0]
    return None


def referenced_logical_ids(value: Any) -> Iterator[str]:
    """Every logical ID that ``value`` refers to, at any depth (e.g. inside ``Fn::Join``)."""
    found = referenced_logical_id(value)
    if found is not None:
        yield found
    elif isinstance(value, Mapping):
        for item in cast(Mapping[str, Any], value).values():
            yield from referenced_logical_ids(item)
    elif isinstance(value, list):
        for item in cast(list[Any], value):
            yield from referenced_logical_ids(item)


@dataclass(frozen=True)
class TemplateResource:
    """One resource of a template, and the template's other resources it may refer to."""

    logical_id: str
    resource_type: str
    properties: Mapping[str, Any]
    resources: Resources

    def prop(self, *path: str) -> Any:
        """The property at ``path`` (``prop("DnsConfig", "DnsRecords")``); None when absent."""
        value: Any = self.properties
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = cast(Mapping[str, Any], value).get(key)
        return value

    def referenced(self, value: Any, resource_type: str) -> TemplateResource | None:
        """The resource of ``resource_type`` in this template that ``value`` refers to with Ref or Fn::GetAtt."""
        logical_id = referenced_logical_id(value)
        return None if logical_id is None else self.resource(logical_id, resource_type)

    def resource(self, logical_id: str, resource_type: str) -> TemplateResource | None:
        """The resource ``logical_id`` of this template, when it is a ``resource_type``."""
        resource = self.resources.get(logical_id)
        if resource is None or resource.get("Type") != resource_type:
            return None
        return TemplateResource(logical_id, resource_type, mapping(resource.get("Properties")), self.resources)

    def of_type(self, resource_type: str) -> list[TemplateResource]:
        """Every resource of ``resource_type`` in this template, in template order."""
        found: list[TemplateResource] = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                found.append(
                    TemplateResource(logical_id, resource_type, mapping(resource.get("Properties")), self.resources)
                )
        return found


class StackTemplates:
    """The templates of the stacks one validation looks at, each read (or rendered) once.

    Keep one per validation: a construct tree changed after it was read is not seen.

    :param rendered_types: before synthesis, the resource types whose properties are rendered
        (the others are listed with their type only). Default: all types.
    """

    def __init__(self, rendered_types: Collection[str] | None = None) -> None:
        self._rendered_types = rendered_types
        # id(stack) -> (stack, {id(L1): (L1, logical ID)}, resources). The stack and the L1
        # objects are held so that their ids stay theirs while the entry lives.
        self._stacks: dict[int, tuple[Stack, dict[int, tuple[CfnResource, str]], Resources]] = {}

    def view(self, node: CfnResource) -> TemplateResource | None:
        """``node`` as its stack's template shows it; None when it is not there (e.g. a condition removed it)."""
        stack = Stack.of(node)
        entry = self._stacks.get(id(stack))
        if entry is None:
            entry = self._stacks[id(stack)] = (stack, *_load(stack, self._rendered_types))
        _, logical_ids, resources = entry
        known = logical_ids.get(id(node))
        logical_id = known[1] if known is not None else stack.resolve(node.logical_id)
        if not isinstance(logical_id, str):
            return None
        resource = resources.get(logical_id)
        if resource is None:
            return None
        return TemplateResource(logical_id, str(resource.get("Type")), mapping(resource.get("Properties")), resources)


def _own_cfn_resources(stack: Stack) -> list[CfnResource]:
    """The L1 resources of ``stack`` itself (a nested stack's resources are in its own template)."""
    found: list[CfnResource] = []
    pending: list[IConstruct] = list(stack.node.children)
    while pending:
        construct = pending.pop()
        if isinstance(construct, Stack):
            continue
        if isinstance(construct, CfnResource):
            found.append(construct)
        pending.extend(construct.node.children)
    return found


def _synthesized_resources(stack: Stack) -> Resources | None:
    stage = Stage.of(stack)
    if stage is None:
        return None
    template_file = Path(stage.outdir) / stack.template_file
    try:
        template = json.loads(template_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    resources: Any = mapping(template).get("Resources")
    if not isinstance(resources, dict):
        return None
    return {
        str(key): cast(Mapping[str, Any], value)
        for key, value in cast(dict[Any, Any], resources).items()
        if isinstance(value, Mapping)
    }


def _load(stack: Stack, rendered_types: Collection[str] | None) -> tuple[dict[int, tuple[CfnResource, str]], Resources]:
    nodes: dict[int, tuple[CfnResource, str]] = {}
    types: dict[str, str] = {}
    for node in _own_cfn_resources(stack):
        logical_id = stack.resolve(node.logical_id)
        if isinstance(logical_id, str):
            nodes[id(node)] = (node, logical_id)
            types[logical_id] = node.cfn_resource_type
    synthesized = _synthesized_resources(stack)
    # The file is this tree's template only if it holds every resource of the tree with its
    # type: an older synthesis (another tree) in the same output directory is not used.
    if synthesized is not None and all(
        synthesized.get(logical_id, {}).get("Type") == resource_type for logical_id, resource_type in types.items()
    ):
        return nodes, synthesized
    rendered: dict[str, Mapping[str, Any]] = {}
    for node, logical_id in nodes.values():
        resource_type = types[logical_id]
        properties: Any = {}
        if rendered_types is None or resource_type in rendered_types:
            # As CfnResource._toCloudFormation does: resolve the L1's own properties, then render them
            # to CloudFormation's names (rendering validates, and Lazy values are only lists once resolved).
            resolved = stack.resolve(node._cfn_properties)  # pyright: ignore[reportPrivateUsage]
            properties = node._render_properties(resolved) if resolved else {}  # pyright: ignore[reportPrivateUsage]
        rendered[logical_id] = {"Type": resource_type, "Properties": mapping(properties)}
    return nodes, rendered
