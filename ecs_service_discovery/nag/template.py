"""What the rules read: a resource as CloudFormation receives it, beside the other resources of its template.

A rule reads this view, not the L1 object, so that one rule serves L1 resources, L2
constructs and templates brought in with ``CfnInclude`` alike. The view comes from the
stack's synthesized template file when there is one (the pack runs as a policy validation
plugin after synthesis, or after ``app.synth()``), so it holds raw overrides
(``add_property_override``) too. Before synthesis, or when the file lacks a resource of
the tree (an older synthesis of another tree in the same output directory), it is rendered
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


@dataclass
class _Template:
    """One stack's resources; ``synthesized`` when they come from its template file."""

    resources: Resources
    synthesized: bool
    #: The stack objects that found this entry (held, so that their ids stay theirs).
    stacks: list[Stack]


class StackTemplates:
    """The templates of the stacks one validation looks at, each read (or rendered) once.

    Keep one per validation: a construct tree changed after it was read is not seen.

    :param rendered_types: before synthesis, the resource types whose properties are rendered
        (the others are not listed). Default: all types.
    """

    def __init__(self, rendered_types: Collection[str] | None = None) -> None:
        self._rendered_types = rendered_types
        self._by_stack_id: dict[int, _Template] = {}
        self._by_file: dict[str, _Template] = {}

    def view(self, node: CfnResource, resource_type: str | None = None) -> TemplateResource | None:
        """``node`` as its stack's template shows it; None when it is not there.

        :param resource_type: ``node.cfn_resource_type`` when the caller has it (saves a call into Node.js).
        """
        stack = Stack.of(node)
        template = self._template(stack)
        logical_id = stack.resolve(node.logical_id)
        if not isinstance(logical_id, str):
            return None
        resource_type = resource_type or node.cfn_resource_type
        resource = template.resources.get(logical_id)
        if template.synthesized and (resource is None or resource.get("Type") != resource_type):
            # The file in the output directory is not this tree's template (an older synthesis of
            # another tree): read the tree itself.
            template.resources, template.synthesized = _rendered_resources(stack, self._rendered_types), False
            resource = template.resources.get(logical_id)
        if resource is None:
            return None
        return TemplateResource(logical_id, resource_type, mapping(resource.get("Properties")), template.resources)

    def _template(self, stack: Stack) -> _Template:
        # Stacks made in Python are the same object each time; others get a new proxy per call,
        # and are found again by their template file.
        template = self._by_stack_id.get(id(stack))
        if template is not None:
            return template
        stage = Stage.of(stack)
        template_file = None if stage is None else Path(stage.outdir) / stack.template_file
        key = str(template_file) if template_file is not None else f"(no stage) {stack.node.path}"
        template = self._by_file.get(key)
        if template is None:
            synthesized = None if template_file is None else _synthesized_resources(template_file)
            if synthesized is None:
                template = _Template(_rendered_resources(stack, self._rendered_types), False, [])
            else:
                template = _Template(synthesized, True, [])
            self._by_file[key] = template
        template.stacks.append(stack)
        self._by_stack_id[id(stack)] = template
        return template


def _synthesized_resources(template_file: Path) -> Resources | None:
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


def _own_cfn_resources(stack: Stack) -> list[CfnResource]:
    """The L1 resources of ``stack`` itself (a nested stack's resources are in its own template)."""
    constructs = stack.node.find_all()
    resources = [c for c in constructs if isinstance(c, CfnResource)]
    if not any(isinstance(c, Stack) for c in constructs[1:]):
        return resources
    path = stack.node.path
    own: list[CfnResource] = []
    for resource in resources:
        owner = Stack.of(resource)
        if owner is stack or owner.node.path == path:
            own.append(resource)
    return own


def _rendered_resources(stack: Stack, rendered_types: Collection[str] | None) -> Resources:
    """The resources of ``stack`` from its L1 properties, as CfnResource._toCloudFormation renders them
    (without raw overrides): resolve the L1's own properties, then render them to CloudFormation's
    names (rendering validates, and Lazy values are only lists once resolved)."""
    rendered: dict[str, Mapping[str, Any]] = {}
    for node in _own_cfn_resources(stack):
        resource_type = node.cfn_resource_type
        if rendered_types is not None and resource_type not in rendered_types:
            continue
        logical_id = stack.resolve(node.logical_id)
        if not isinstance(logical_id, str):
            continue
        resolved = stack.resolve(node._cfn_properties)  # pyright: ignore[reportPrivateUsage]
        properties: Any = node._render_properties(resolved) if resolved else {}  # pyright: ignore[reportPrivateUsage]
        rendered[logical_id] = {"Type": resource_type, "Properties": mapping(properties)}
    return rendered
