"""A safe, bounded reader of YAML and JSON documents (topology files) into plain Python data.

:func:`load_document` is the one entry point. It exists because ``yaml.safe_load`` and
``json.loads`` trust their input: a YAML "billion laughs" file expands into millions of values,
a deeply nested file ends in ``RecursionError``, duplicate keys silently keep the last value (so a
whole ``services:`` list can vanish) and a non-UTF-8 file ends in ``UnicodeDecodeError``. Here
every such file fails early with one :class:`~ecs_service_discovery.errors.ValidationError` line.

YAML is read event by event (libyaml when PyYAML has it) and composed here, so that anchors,
tags, keys and limits are decided before any value is built. JSON is read by the standard
library's parser, with its object and array hooks counting depth and values and finding
duplicate keys with their position.
"""

from __future__ import annotations

import copy
import json
import json.decoder
import json.scanner
import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol, cast

import yaml
import yaml.events

from ecs_service_discovery.errors import ValidationError

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_VALUES", "load_document"]

MAX_FILE_BYTES = 1024 * 1024
"""Largest file read, in bytes (1 MiB). A topology of 200 services is about 20 KiB."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings: ``[[1]]`` is 2 levels. A topology file needs 4."""
MAX_VALUES = 100_000
"""Most values in one document: scalars, lists and mappings, mapping keys included; each use of
a YAML alias counts every value it stands for again (which is what stops "billion laughs")."""
SHORT_VALUE_CHARS = 40
"""Longest quoted value in an error message; longer ones are cut with their length given."""

_YAML_SUFFIXES = (".yaml", ".yml")
_JSON_SUFFIXES = (".json",)
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null")}
_ALLOWED_TAGS = "!!str, !!int, !!float, !!bool, !!null, !!seq, !!map"
# Tags the resolver gives plain scalars that are text in this schema: a date stays the text written
# (an environment value "2024-01-01" is meant as text), "=" and "<<" as values are text too.
_TEXT_RESOLVED_TAGS = {f"{_CORE}{name}" for name in ("timestamp", "value", "merge")}
# C0 and C1 control characters except tab, line feed and carriage return; line and paragraph
# separators (line breaks to YAML 1.1, not to JSON or to an editor); bidirectional overrides and
# isolates (text that reads differently than it parses); byte order marks and non-characters;
# surrogates, which only an escape (JSON "\ud800") can bring in and no UTF-8 writer can write.
_FORBIDDEN_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]"
)
_BYTE_ORDER_MARKS = (
    # UTF-32 first: its little-endian mark begins with UTF-16's.
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xef\xbb\xbf", "UTF-8"),
)
_JSON_MEMBER_SEPARATOR = re.compile(r"[ \t\n\r,]*")
# The pure-Python parts of the standard library's JSON parser: unlike the C scanner, they call the
# decoder's parse_object/parse_array hooks with the offset, which is what gives errors a position.
_py_make_scanner = cast(
    Callable[[json.JSONDecoder], Callable[[str, int], tuple[Any, int]]], vars(json.scanner)["py_make_scanner"]
)
_json_object = cast(Callable[..., tuple[list[tuple[str, Any]], int]], vars(json.decoder)["JSONObject"])
_json_array = cast(Callable[..., tuple[list[Any], int]], vars(json.decoder)["JSONArray"])


class _Refused(Exception):
    """A problem found at a known offset of the text; :func:`load_document` makes it a ValidationError."""

    def __init__(
        self, message: str, line: int | None = None, column: int | None = None, *, offset: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        # JSON: the offset in the text, made a line and column only when the error is reported.
        self.offset = offset

    def describe(self) -> str:
        """``line L, column C: message``; a syntax error keeps its kind first ("not valid YAML: line ...")."""
        if self.line is None:
            return self.message
        kind, separator, problem = self.message.partition(": ")
        where = f"line {self.line}, column {self.column}"
        if kind in ("not valid YAML", "not valid JSON") and separator:
            return f"{kind}: {where}: {problem}"
        return f"{where}: {self.message}"


def load_document(path: str | os.PathLike[str]) -> Any:
    """Read one YAML or JSON document from ``path`` into plain Python data, within fixed limits.

    The format follows the suffix: ``.yaml``/``.yml`` (YAML 1.1 as PyYAML's ``safe_load`` reads
    it, with the restrictions below) or ``.json``, in any letter case.

    The result is built only from ``dict`` (keys are ``str``), ``list``, ``str``, ``int``,
    ``float`` (always finite), ``bool`` and ``None``, and is a tree: no list or mapping appears in
    it twice, so it may be changed freely. An empty YAML file gives ``None``.

    Refused, each with a :class:`~ecs_service_discovery.errors.ValidationError` of one line that
    names the file, says where (line and column, counted from 1) and quotes at most
    ``SHORT_VALUE_CHARS`` characters of any value:

    * a path that is not a regular file, or one larger than ``MAX_FILE_BYTES`` (1 MiB);
    * text that is not UTF-8, a byte order mark (UTF-8, UTF-16 or UTF-32), and control characters
      other than tab and line breaks, line/paragraph separators, bidirectional controls and
      (escaped) surrogates, whether written raw or (in a string) as an escape sequence;
    * nesting deeper than ``MAX_DEPTH`` (64) and more than ``MAX_VALUES`` (100,000) values;
    * a key that appears twice in one mapping (YAML or JSON), named with both positions;
    * ``NaN``, ``Infinity`` and numbers too large for a finite float (``1e400``);
    * YAML only: more than one document; explicit tags other than !!str, !!int, !!float, !!bool,
      !!null, !!seq and !!map (so no ``!!python/...``, ``!!binary``, ``!!set``, ``!Ref``);
      merge keys (``<<``: a later key would silently override a merged one); keys that are not
      scalars. Anchors and aliases are allowed: an alias is a copy of its anchor's value and
      counts towards ``MAX_VALUES`` each time it is used.

    YAML mapping keys are always the text as written (``on:`` is the key ``"on"``, ``1:`` is
    ``"1"``), as in JSON. Values are typed as ``safe_load`` types them (``yes`` is ``True``),
    except that dates stay text.

    :param path: the file, as ``str`` or ``pathlib.Path``.
    :returns: the document as plain data (see above).
    :raises ValidationError: for every refused file, never another exception for a file's content.
    """
    if not isinstance(cast(object, path), (str, os.PathLike)):
        raise ValidationError(f"path={short(path)} is not valid: expected a file path (str or pathlib.Path)")
    file = Path(path)
    name = _file_name(file)
    suffix = file.suffix.lower()
    if suffix not in _YAML_SUFFIXES + _JSON_SUFFIXES:
        raise ValidationError(f"{name}: expected a .yaml, .yml or .json file")
    text = _read_text(file, name)
    try:
        if suffix in _JSON_SUFFIXES:
            return _JsonReader(text).read()
        return _YamlReader(text).read()
    except _Refused as refused:
        raise ValidationError(f"{name}: {refused.describe()}") from None


def short(value: object) -> str:
    """A one-line form of ``value`` for an error message, at most about ``SHORT_VALUE_CHARS`` characters.

    Text is quoted with escapes (so control characters and newlines never reach a terminal);
    lists and mappings are described by their size, never printed.
    """
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(value, str):
        if len(value) <= SHORT_VALUE_CHARS:
            return repr(value)
        return f"{value[:SHORT_VALUE_CHARS]!r}... ({len(value)} characters)"
    if isinstance(value, (bool, float, type(None))) or (isinstance(value, int) and abs(value) < 10**SHORT_VALUE_CHARS):
        return repr(value)
    if isinstance(value, int):
        return f"an integer of {len(str(abs(value)))} digits"
    return f"a {type(value).__name__}"


def _file_name(file: Path) -> str:
    text = str(file)
    return text if text.isprintable() else repr(text)


def _read_text(file: Path, name: str) -> str:
    try:
        status = file.stat()
        if not stat.S_ISREG(status.st_mode):
            raise ValidationError(f"{name}: expected a regular file")
        if status.st_size > MAX_FILE_BYTES:
            raise ValidationError(
                f"{name}: the file has {status.st_size} bytes, more than the {MAX_FILE_BYTES} allowed"
            )
        with file.open("rb") as stream:
            # Read one byte past the limit: the file may have grown since stat().
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ValidationError(f"{name}: cannot be read: {error.strerror or type(error).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"{name}: the file has more than the {MAX_FILE_BYTES} bytes allowed")
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            raise ValidationError(
                f"{name}: the file starts with a {encoding} byte order mark; save it as UTF-8 without one"
            )
    if b"\x00" in data:
        line, column = _byte_position(data, data.index(b"\x00"))
        raise ValidationError(
            f"{name}: line {line}, column {column}: a NUL byte (is it UTF-16 or binary?); expected UTF-8 text"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _byte_position(data, error.start)
        raise ValidationError(
            f"{name}: line {line}, column {column}: byte 0x{data[error.start]:02x} is not UTF-8; save the file as UTF-8"
        ) from None
    forbidden = _FORBIDDEN_CHARACTERS.search(text)
    if forbidden is not None:
        line, column = _text_position(text, forbidden.start())
        raise ValidationError(f"{name}: line {line}, column {column}: {_character_problem(forbidden.group())}")
    return text


def _character_problem(character: str) -> str:
    return f"the control character U+{ord(character):04X} is not allowed"


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    return data.count(b"\n", 0, offset) + 1, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def _text_position(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _check_text_value(
    value: str, line: int | None = None, column: int | None = None, offset: int | None = None
) -> None:
    """Escape sequences (``"\\x1b"``, ``"\\u0000"``) must not bring in what the file may not hold raw."""
    forbidden = _FORBIDDEN_CHARACTERS.search(value)
    if forbidden is not None:
        problem = _character_problem(forbidden.group())
        raise _Refused(f"{short(value)} holds a forbidden character: {problem}", line, column, offset=offset)


class _Budget:
    """Counts values and checks depth against the limits.

    A position is either a line and column (YAML) or an offset in the text (JSON), which is made a
    line and column only for an error: counting lines for every value would be quadratic.
    """

    def __init__(self, hint: str = "") -> None:
        self.values = 0
        self.hint = hint

    def spend(self, count: int, line: int | None = None, column: int | None = None, offset: int | None = None) -> None:
        self.values += count
        if self.values > MAX_VALUES:
            message = f"more than {MAX_VALUES} values{self.hint}"
            raise _Refused(message, line, column, offset=offset)

    @staticmethod
    def check_depth(depth: int, line: int | None = None, column: int | None = None, offset: int | None = None) -> None:
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", line, column, offset=offset)


# ---------------------------------------------------------------------------------------------
# YAML


class _YamlLoader(Protocol):
    """What this module uses of PyYAML's SafeLoader and CSafeLoader (whose stubs leave it untyped)."""

    bool_values: dict[str, bool]

    def check_event(self) -> bool: ...
    def get_event(self) -> yaml.events.Event: ...
    def dispose(self) -> None: ...
    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str: ...
    def construct_yaml_int(self, node: yaml.ScalarNode) -> int: ...
    def construct_yaml_float(self, node: yaml.ScalarNode) -> float: ...


@dataclass
class _Collection:
    """A list or mapping being composed from YAML events."""

    value: dict[str, Any] | list[Any]
    anchor: str | None
    values_before: int
    height: int = 1
    key: str | None = None
    key_lines: dict[str, int] = field(default_factory=dict[str, int])


@dataclass(frozen=True)
class _Anchored:
    value: Any
    values: int
    height: int


class _YamlReader:
    def __init__(self, text: str) -> None:
        loader_class: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self._loader = cast(_YamlLoader, loader_class(text))
        self._budget = _Budget(hint=" (an alias counts its anchor's values each time it is used)")
        self._anchors: dict[str, _Anchored] = {}
        self._stack: list[_Collection] = []
        self._documents = 0
        self._result: Any = None

    def read(self) -> Any:
        try:
            while True:
                event = self._next_event()
                if event is None:
                    return self._result
                self._handle(event)
        finally:
            self._loader.dispose()

    def _next_event(self) -> yaml.events.Event | None:
        try:
            if not self._loader.check_event():
                return None
            return self._loader.get_event()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            problem = " ".join(f"{error.context or ''} {error.problem or ''}".split())
            raise _Refused(
                f"not valid YAML: {_cut(problem)}",
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            ) from None
        except yaml.YAMLError as error:
            raise _Refused(f"not valid YAML: {_cut(' '.join(str(error).split()))}") from None

    def _handle(self, event: yaml.events.Event) -> None:
        line, column = _mark(event)
        if isinstance(event, yaml.events.DocumentStartEvent):
            self._documents += 1
            if self._documents > 1:
                raise _Refused("a second document ('---'); expected exactly one", line, column)
        elif isinstance(event, yaml.events.ScalarEvent):
            self._scalar(event, line, column)
        elif isinstance(event, (yaml.events.MappingStartEvent, yaml.events.SequenceStartEvent)):
            self._start(event, line, column)
        elif isinstance(event, (yaml.events.MappingEndEvent, yaml.events.SequenceEndEvent)):
            done = self._stack.pop()
            self._add(done.value, done.height, line, column)
            if done.anchor is not None:
                self._anchors[done.anchor] = _Anchored(
                    done.value, self._budget.values - done.values_before, done.height
                )
        elif isinstance(event, yaml.events.AliasEvent):
            self._alias(event, line, column)

    def _scalar(self, event: yaml.events.ScalarEvent, line: int, column: int) -> None:
        self._budget.spend(1, line, column)
        _check_text_value(event.value, line, column)
        parent = self._stack[-1] if self._stack else None
        if isinstance(parent, _Collection) and isinstance(parent.value, dict) and parent.key is None:
            self._key(parent, event, line, column)
            return
        value = self._typed(event, line, column)
        self._add(value, 0, line, column)
        if event.anchor is not None:
            self._anchors[event.anchor] = _Anchored(value, 1, 0)

    def _key(self, mapping: _Collection, event: yaml.events.ScalarEvent, line: int, column: int) -> None:
        if event.tag not in (None, "!", f"{_CORE}str"):
            raise _Refused(
                f"the key {short(event.value)} has the tag {_short_tag(event.tag)}; keys are text", line, column
            )
        if event.implicit[0] and event.value == "<<" and event.tag is None:
            raise _Refused(
                "a merge key ('<<') is not allowed: write the keys out (or use the file's defaults)", line, column
            )
        assert isinstance(mapping.value, dict)
        if event.value in mapping.value:
            first = mapping.key_lines[event.value]
            raise _Refused(
                f"the key {short(event.value)} appears twice in one mapping (first at line {first})", line, column
            )
        mapping.key = event.value
        mapping.key_lines[event.value] = line
        if event.anchor is not None:
            self._anchors[event.anchor] = _Anchored(event.value, 1, 0)

    def _typed(self, event: yaml.events.ScalarEvent, line: int, column: int) -> Any:
        explicit = event.tag not in (None, "!")
        tag = event.tag if explicit else self._loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in _TEXT_RESOLVED_TAGS and not explicit:
            return event.value
        if tag not in _SCALAR_TAGS:
            raise _Refused(f"the tag {_short_tag(tag)} is not allowed; allowed: {_ALLOWED_TAGS}", line, column)
        if tag == f"{_CORE}str":
            return event.value
        node = yaml.ScalarNode(tag, event.value)
        try:
            if tag == f"{_CORE}null":
                if explicit and event.value not in ("", "~", "null", "Null", "NULL"):
                    raise ValueError
                return None
            if tag == f"{_CORE}bool":
                return self._loader.bool_values[event.value.lower()]
            if tag == f"{_CORE}int":
                return self._loader.construct_yaml_int(node)
            number = self._loader.construct_yaml_float(node)
        except (ValueError, KeyError, IndexError):
            # int() refuses more than 4,300 digits; explicit tags may not fit their text.
            raise _Refused(f"{short(event.value)} is not a valid {_short_tag(tag)}", line, column) from None
        if not math.isfinite(number):
            raise _Refused(f"{short(event.value)}: NaN and infinite numbers are not allowed", line, column)
        return number

    def _start(
        self, event: yaml.events.MappingStartEvent | yaml.events.SequenceStartEvent, line: int, column: int
    ) -> None:
        is_mapping = isinstance(event, yaml.events.MappingStartEvent)
        parent = self._stack[-1] if self._stack else None
        if parent is not None and isinstance(parent.value, dict) and parent.key is None:
            raise _Refused("a mapping key must be text, not a list or mapping", line, column)
        if event.tag not in (None, "!", f"{_CORE}map" if is_mapping else f"{_CORE}seq"):
            raise _Refused(f"the tag {_short_tag(event.tag)} is not allowed; allowed: {_ALLOWED_TAGS}", line, column)
        _Budget.check_depth(len(self._stack) + 1, line, column)
        self._budget.spend(1, line, column)
        value: dict[str, Any] | list[Any] = {} if is_mapping else []
        self._stack.append(_Collection(value, event.anchor, self._budget.values - 1))

    def _alias(self, event: yaml.events.AliasEvent, line: int, column: int) -> None:
        parent = self._stack[-1] if self._stack else None
        if parent is not None and isinstance(parent.value, dict) and parent.key is None:
            raise _Refused("a mapping key must be text, not an alias", line, column)
        anchored = self._anchors.get(event.anchor or "")
        if anchored is None:
            # An anchor still being composed is not yet known: recursive structures are refused here too.
            raise _Refused(f"the alias *{_cut(event.anchor or '')} names no anchor defined before it", line, column)
        _Budget.check_depth(len(self._stack) + anchored.height, line, column)
        self._budget.spend(anchored.values, line, column)
        # A copy, so that the result is a tree; its size is within the budget just spent.
        self._add(copy.deepcopy(anchored.value), anchored.height, line, column)

    def _add(self, value: Any, height: int, line: int, column: int) -> None:
        if not self._stack:
            self._result = value
            return
        parent = self._stack[-1]
        parent.height = max(parent.height, height + 1)
        if isinstance(parent.value, list):
            parent.value.append(value)
        else:
            assert parent.key is not None
            parent.value[parent.key] = value
            parent.key = None


def _mark(event: yaml.events.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


def _short_tag(tag: str | None) -> str:
    text = tag or "!"
    if text.startswith(_CORE):
        text = "!!" + text.removeprefix(_CORE)
    return repr(_cut(text)) if not text.isprintable() else _cut(text)


def _cut(text: str, limit: int = 2 * SHORT_VALUE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


# ---------------------------------------------------------------------------------------------
# JSON


class _JsonReader:
    """The standard library's JSON parser (its pure-Python scanner, whose hooks see positions)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._budget = _Budget()
        self._depth = 0
        # Start (and end) offset of each member value of the objects being parsed, innermost last.
        self._members: list[list[tuple[int, int]]] = []
        decoder = json.JSONDecoder(parse_constant=self._constant, parse_float=self._float)
        decoder.parse_object = self._object  # pyright: ignore[reportAttributeAccessIssue]
        decoder.parse_array = self._array  # pyright: ignore[reportAttributeAccessIssue]
        self._scan_value = _py_make_scanner(decoder)
        decoder.scan_once = self._scan  # pyright: ignore[reportAttributeAccessIssue]
        self._decoder = decoder

    def read(self) -> Any:
        try:
            return self._decoder.decode(self._text)
        except json.JSONDecodeError as error:
            raise _Refused(f"not valid JSON: {_cut(error.msg)}", error.lineno, error.colno) from None
        except _Refused as refused:
            if refused.offset is not None:
                refused.line, refused.column = self._position(refused.offset)
            raise

    def _position(self, offset: int) -> tuple[int, int]:
        return _text_position(self._text, offset)

    def _refuse(self, message: str, offset: int) -> NoReturn:
        raise _Refused(message, offset=offset)

    def _scan(self, text: str, offset: int) -> tuple[Any, int]:
        self._budget.spend(1, offset=offset)
        try:
            value, end = self._scan_value(text, offset)
        except _NumberRefused as refused:
            self._refuse(refused.message, offset)
        except ValueError as error:
            if isinstance(error, json.JSONDecodeError):
                raise
            # int() refuses numbers of more than 4,300 digits.
            self._refuse(f"a number the parser refuses ({_cut(str(error))})", offset)
        if isinstance(value, str):
            _check_text_value(value, offset=offset)
        if self._members:
            self._members[-1].append((offset, end))
        return value, end

    def _object(self, start_and_end: tuple[str, int], *args: Any) -> tuple[dict[str, Any], int]:
        text, offset = start_and_end
        self._depth += 1
        self._members.append([])
        try:
            _Budget.check_depth(self._depth, offset=offset - 1)
            strict, _scan_once, _object_hook, _pairs_hook, memo = args
            pairs, end = _json_object((text, offset), strict, self._scan, None, _identity, memo)
            members = self._members[-1]
        finally:
            self._members.pop()
            self._depth -= 1
        result: dict[str, Any] = {}
        first_at: dict[str, int] = {}
        for index, (key, value) in enumerate(pairs):
            # The key begins after the previous member (or the brace), past blanks and the comma.
            key_offset = _skip_separators(text, members[index - 1][1] if index else offset)
            _check_text_value(key, offset=key_offset)
            if key in result:
                first_line = self._position(first_at[key])[0]
                self._refuse(
                    f"the key {short(key)} appears twice in one object (first at line {first_line})", key_offset
                )
            result[key] = value
            first_at[key] = key_offset
        self._budget.spend(len(pairs), offset=offset)
        return result, end

    def _array(self, start_and_end: tuple[str, int], _scan_once: Any) -> tuple[list[Any], int]:
        text, offset = start_and_end
        self._depth += 1
        self._members.append([])  # values of an array are not object members
        try:
            _Budget.check_depth(self._depth, offset=offset - 1)
            return _json_array((text, offset), self._scan)
        finally:
            self._members.pop()
            self._depth -= 1

    @staticmethod
    def _constant(name: str) -> NoReturn:
        raise _NumberRefused(f"{name}: NaN and infinite numbers are not allowed")

    @staticmethod
    def _float(text: str) -> float:
        number = float(text)
        if not math.isfinite(number):
            raise _NumberRefused(f"{short(text)} is too large for a finite number")
        return number


class _NumberRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _identity(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return pairs


def _skip_separators(text: str, offset: int) -> int:
    match = _JSON_MEMBER_SEPARATOR.match(text, offset)
    return match.end() if match else offset
