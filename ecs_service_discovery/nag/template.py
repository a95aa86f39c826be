"""What the rules read: a resource as CloudFormation receives it, beside the other resources of its template.

A rule reads this view, not the L1 object, so that one rule serves L1 resources, L2
constructs and templates brought in with ``CfnInclude`` alike. The view comes from the
stack's synthesized template file when there is one (the pack runs as a policy validation
plugin after synthesis, or after ``app.synth()``), so it holds raw overrides
(``add_property_override``) too. Before synthesis, or when the file lacks a resource of
the tree (an older synthesis of another tree in the same output directory), it is rendered
from the L1 properties, as cdk-nag's own rules see them: without raw overrides.

Values are what ``Stack.resolve`` gives, read as CloudFormation reads them (:func:`as_deployed`):
``{"Ref": "AWS::NoValue"}`` is an absent property and ``Fn::Join`` of literals is its text. What
is left is literals, or intrinsic functions (``Fn::If``, ``Ref``, ``Fn::GetAtt``,
``Fn::ImportValue`` ...) for what is only known at deploy time. Rules read values through the
functions below, which raise :class:`DeployTimeValue` for a value known only at deploy time and
:class:`InvalidValue` for a number CloudFormation refuses; :func:`decide` makes the first "not
applicable" (never a finding, never a pass) and the second "non-compliant", the same way for
every rule. A rule never raises past :func:`decide`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from aws_cdk import CfnResource, Stack, Stage
from cdk_nag import NagRuleCompliance

from ecs_service_discovery.validation import MAX_INT32

#: One template's resources: logical ID -> {"Type": ..., "Properties": {...}, ...}.
Resources = Mapping[str, Mapping[str, Any]]

#: The largest number the rules accept: CloudFormation's integer properties that they read (a DNS
#: record's and an SOA's TTL, DesiredCount, MaxCapacity, StopTimeout, Port) stop at 2^31-1.
MAX_WHOLE_NUMBER = MAX_INT32
# ASCII digits only (str.isdigit and int() take other scripts' digits), at most as many as the maximum has.
_WHOLE_NUMBER = re.compile(rf"[0-9]{{1,{len(str(MAX_WHOLE_NUMBER))}}}")
_NO_VALUE = "AWS::NoValue"
# A Fn::Sub variable: "${Name}"; "${!Literal}" is the literal text "${Literal}".
_SUB_VARIABLE = re.compile(r"\$\{(?!!)")


class DeployTimeValue(Exception):
    """A value the rule needs is only known at deploy time (``Fn::If``, ``Ref`` to a parameter,
    ``Fn::ImportValue`` ...): the rule is not applicable (see :func:`decide`)."""


class InvalidValue(Exception):
    """A value CloudFormation refuses where the rule needs a number (``-1``, ``"1.5"``, ``" 10"``,
    2^31): the rule reports it (see :func:`decide`)."""


def intrinsic(value: Any) -> str | None:
    """The name of the intrinsic function ``value`` is (``"Fn::If"``, ``"Ref"`` ...), else None."""
    if isinstance(value, Mapping) and len(cast(Mapping[str, Any], value)) == 1:
        (name,) = cast(Mapping[str, Any], value)
        if name == "Ref" or name.startswith("Fn::"):
            return name
    return None


def is_no_value(value: Any) -> bool:
    """True for ``{"Ref": "AWS::NoValue"}``: CloudFormation removes the property (or list item)."""
    return intrinsic(value) == "Ref" and cast(Mapping[str, Any], value)["Ref"] == _NO_VALUE


def as_deployed(value: Any) -> Any:
    """``value`` as CloudFormation reads it before any deploy-time value is known: properties and list
    items that are ``AWS::NoValue`` removed, ``Fn::Join`` of literals joined and ``Fn::Sub`` without
    variables substituted, at any depth. Other intrinsic functions stay as they are."""
    if isinstance(value, list):
        return [as_deployed(item) for item in cast(list[Any], value) if not is_no_value(item)]
    if not isinstance(value, Mapping):
        return value
    mapping_value = cast(Mapping[str, Any], value)
    function = intrinsic(mapping_value)
    if function is None:
        return {key: as_deployed(item) for key, item in mapping_value.items() if not is_no_value(item)}
    argument: Any = mapping_value[function]
    if function == "Fn::If" and isinstance(argument, list):
        # A branch may be AWS::NoValue itself: that is what the condition decides, keep it.
        return {function: [item if is_no_value(item) else as_deployed(item) for item in cast(list[Any], argument)]}
    if function == "Fn::Join":
        argument = as_deployed(argument)
        if isinstance(argument, list) and len(cast(list[Any], argument)) == 2:
            separator, parts = cast(list[Any], argument)
            if (
                isinstance(separator, str)
                and isinstance(parts, list)
                and all(isinstance(part, str) for part in cast(list[Any], parts))
            ):
                return separator.join(cast(list[str], parts))
    if function == "Fn::Sub":
        # Without variables (a string, or a string and an empty map), the text is known.
        sub: list[Any] = cast(list[Any], argument) if isinstance(argument, list) else [argument, {}]
        template: Any = sub[0] if len(sub) == 2 and sub[1] == {} else None
        if isinstance(template, str) and not _SUB_VARIABLE.search(template):
            return template.replace("${!", "${")
    result: dict[str, Any] = {function: argument}
    return result


def known(value: Any) -> Any:
    """``value``, which the rule needs as it is: raises :class:`DeployTimeValue` for an intrinsic function."""
    if intrinsic(value) is not None:
        raise DeployTimeValue(value)
    return value


def present(value: Any) -> bool:
    """Whether a property is there once deployed; raises :class:`DeployTimeValue` when a condition decides.

    An intrinsic function other than ``Fn::If`` always gives some value (a parameter's, an
    attribute's): the property is there. ``Fn::If`` is there when both branches are.
    """
    if value is None or is_no_value(value):
        return False
    if intrinsic(value) != "Fn::If":
        return True
    branches: Any = cast(Mapping[str, Any], value)["Fn::If"]
    if not isinstance(branches, list) or len(cast(list[Any], branches)) != 3:
        raise DeployTimeValue(value)
    _, when_true, when_false = cast(list[Any], branches)
    first, second = present(when_true), present(when_false)
    if first != second:
        raise DeployTimeValue(value)
    return first


def whole_number(value: Any) -> int:
    """A number the rule compares: 0 .. ``MAX_WHOLE_NUMBER``, or its decimal digits as text ("30").

    Raises :class:`DeployTimeValue` for an intrinsic function and :class:`InvalidValue` for what
    CloudFormation refuses: absent, negative, fractional, too large, text with a sign, a space, an
    exponent or other digits than 0-9, booleans.
    """
    known(value)
    if isinstance(value, bool):
        raise InvalidValue(value)
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value)
    ):
        number = int(value)
    if number is None or not 0 <= number <= MAX_WHOLE_NUMBER:
        raise InvalidValue(value)
    return number


def text(value: Any) -> str | None:
    """A text property (a name); None when absent or not text. Raises :class:`DeployTimeValue` for an
    intrinsic function."""
    known(value)
    return value if isinstance(value, str) else None


def flag(value: Any, default: bool) -> bool:
    """A boolean property (``true``, ``"false"`` ...); ``default`` when absent. Raises
    :class:`DeployTimeValue` for an intrinsic function and :class:`InvalidValue` for anything else."""
    known(value)
    if value is None:
        return default
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise InvalidValue(value)


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is an object, else an empty one (absent). Raises :class:`DeployTimeValue` for an
    intrinsic function (a whole property block under ``Fn::If``)."""
    known(value)
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list property; an absent list has none. Raises :class:`DeployTimeValue` for an
    intrinsic function, as the list or as one of its items."""
    known(value)
    if not isinstance(value, list):
        return []
    items = [known(item) for item in cast(list[Any], value)]
    return [cast(Mapping[str, Any], item) for item in items if isinstance(item, Mapping)]


T = TypeVar("T")


def each(items: Iterable[T], check: Callable[[T], NagRuleCompliance]) -> NagRuleCompliance:
    """What a rule decides over several parts (records, registries, containers): one violation is
    reported even when other parts are known only at deploy time; one such part keeps the rest from
    passing (it raises :class:`DeployTimeValue`, so that an outer ``each`` learns it too)."""
    unknown: DeployTimeValue | None = None
    compliant = False
    for item in items:
        try:
            verdict = check(item)
        except DeployTimeValue as error:
            unknown = error
            continue
        except InvalidValue:
            return NagRuleCompliance.NON_COMPLIANT
        if verdict == NagRuleCompliance.NON_COMPLIANT:
            return verdict
        compliant = compliant or verdict == NagRuleCompliance.COMPLIANT
    if unknown is not None:
        raise unknown
    return NagRuleCompliance.COMPLIANT if compliant else NagRuleCompliance.NOT_APPLICABLE


def decide(check: Callable[[TemplateResource], NagRuleCompliance], resource: TemplateResource) -> NagRuleCompliance:
    """What ``check`` decides for ``resource``: not applicable when a value it needs is known only at
    deploy time (as cdk-nag's own rules cannot resolve such a value; they raise instead), and
    non-compliant when a number is one CloudFormation refuses (as cdk-nag's own rules compare the
    literal: a retention of -1 days fails ``RDSInstanceBackupEnabled``)."""
    try:
        return check(resource)
    except DeployTimeValue:
        return NagRuleCompliance.NOT_APPLICABLE
    except InvalidValue:
        return NagRuleCompliance.NON_COMPLIANT


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
        """The property at ``path`` (``prop("DnsConfig", "DnsRecords")``); None when absent.

        The value at the end may be an intrinsic function (read it with :func:`whole_number`,
        :func:`text` ...); one on the way (``DnsConfig: !If [...]``) raises :class:`DeployTimeValue`.
        """
        value: Any = self.properties
        for key in path:
            known(value)
            if not isinstance(value, Mapping):
                return None
            value = cast(Mapping[str, Any], value).get(key)
        return value

    def referenced(self, value: Any, resource_type: str) -> TemplateResource | None:
        """The resource of ``resource_type`` in this template that ``value`` refers to with Ref or Fn::GetAtt.

        None for a literal (an ARN or a name of a resource elsewhere: nothing can be said of it).
        Raises :class:`DeployTimeValue` for any other intrinsic function (a parameter, an import,
        ``Fn::If``, another template's output), whose resource is known only at deploy time.
        """
        if intrinsic(value) is None:
            return None
        logical_id = referenced_logical_id(value)
        resource = None if logical_id is None else self.resource(logical_id, resource_type)
        if resource is None:
            raise DeployTimeValue(value)
        return resource

    def resource(self, logical_id: str, resource_type: str) -> TemplateResource | None:
        """The resource ``logical_id`` of this template, when it is a ``resource_type``."""
        resource = self.resources.get(logical_id)
        if resource is None or resource.get("Type") != resource_type:
            return None
        return TemplateResource(logical_id, resource_type, _object(resource.get("Properties")), self.resources)

    def of_type(self, resource_type: str) -> list[TemplateResource]:
        """Every resource of ``resource_type`` in this template, in template order."""
        found: list[TemplateResource] = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                found.append(
                    TemplateResource(logical_id, resource_type, _object(resource.get("Properties")), self.resources)
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
        return TemplateResource(logical_id, resource_type, _object(resource.get("Properties")), template.resources)

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
    resources: Any = _object(template).get("Resources")
    if not isinstance(resources, dict):
        return None
    return {
        str(key): _as_deployed_resource(cast(Mapping[str, Any], value))
        for key, value in cast(dict[Any, Any], resources).items()
        if isinstance(value, Mapping)
    }


def _object(value: Any) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def _as_deployed_resource(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """A template's resource with its properties read once, as every rule reads them (:func:`as_deployed`)."""
    return {**resource, "Properties": as_deployed(_object(resource.get("Properties")))}


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
        rendered[logical_id] = _as_deployed_resource({"Type": resource_type, "Properties": properties})
    return rendered
