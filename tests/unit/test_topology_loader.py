"""The bounded topology file reader: good documents read as plain data, every bad one as one clean line.

Each class of bad input (amplification, depth, duplicate keys, encoding, control characters, tags,
merge keys, numbers, size, file kinds) is tried with several inputs; each must raise
ValidationError with one short line naming the file and the position.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecs_service_discovery.errors import ValidationError
from ecs_service_discovery.topology_loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES, load_document

TOPOLOGY = {
    "defaults": {"cpu": 256, "memory": 512},
    "services": [
        {"name": "auth", "image": "public.ecr.aws/docker/library/nginx:1.27", "port": 80, "calls": []},
        {
            "name": "feed",
            "source": "../services/flask-backend",
            "calls": ["auth"],
            "environment": {"LOG_LEVEL": "info", "RATIO": "0.5"},
            "discovery_read": True,
            "scaling": {"min_capacity": 2, "max_capacity": 4, "target_cpu_percent": 60.5},
            "health_check_path": None,
        },
    ],
}


def _write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def _refused(path: Path, match: str) -> str:
    """Load ``path``, expect a ValidationError matching ``match``; check the message is one clean short line."""
    with pytest.raises(ValidationError, match=match) as caught:
        load_document(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and message.isprintable(), repr(message)
    assert len(message) < 300, message
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__), "no chained trace"
    return message


# ---------------------------------------------------------------------------------------------
# Good documents


def test_yaml_and_json_give_the_same_plain_data(tmp_path: Path) -> None:
    from_yaml = load_document(_write(tmp_path, "t.yaml", yaml.safe_dump(TOPOLOGY, sort_keys=False)))
    from_json = load_document(_write(tmp_path, "t.json", json.dumps(TOPOLOGY, indent=2)))
    assert from_yaml == TOPOLOGY
    assert from_json == TOPOLOGY
    assert list(from_yaml["services"][1]) == list(TOPOLOGY["services"][1]), "key order kept"


@pytest.mark.parametrize("name", ["t.YAML", "t.yml", "t.Json"])
def test_suffix_decides_the_format_in_any_case(tmp_path: Path, name: str) -> None:
    assert load_document(_write(tmp_path, name, '{"a": [1, 2.5, "x", true, null]}')) == {"a": [1, 2.5, "x", True, None]}


def test_path_may_be_a_string(tmp_path: Path) -> None:
    assert load_document(str(_write(tmp_path, "t.yaml", "a: 1\n"))) == {"a": 1}


def test_yaml_values_are_typed_as_safe_load_types_them_except_dates(tmp_path: Path) -> None:
    text = (
        "a: yes\nb: 0x1F\nc: 1_000\nd: 1.5e+3\ne: ~\nf: '8080'\ng: 2024-01-01\nh: 2024-01-01 10:00:00\n"
        "i: !!str 8080\nj: !!int '42'\nk: !!float '2'\nl: !!bool 'false'\nm: !!null ''\nn: ! 12\no: café\n"
        "p: '<<'\nq: =\nr: !!map {s: !!seq [1]}\n"
    )
    assert load_document(_write(tmp_path, "t.yaml", text)) == {
        "a": True,
        "b": 31,
        "c": 1000,
        "d": 1500.0,
        "e": None,
        "f": "8080",
        "g": "2024-01-01",
        "h": "2024-01-01 10:00:00",
        "i": "8080",
        "j": 42,
        "k": 2.0,
        "l": False,
        "m": None,
        "n": 12,
        "o": "café",
        "p": "<<",
        "q": "=",
        "r": {"s": [1]},
    }


def test_yaml_keys_are_the_text_as_written(tmp_path: Path) -> None:
    data = load_document(_write(tmp_path, "t.yaml", "on: 1\n1: 2\nnull: 3\n'<<': 4\ntrue: 5\n"))
    assert data == {"on": 1, "1": 2, "null": 3, "<<": 4, "true": 5}


def test_yaml_aliases_are_copies_so_the_result_is_a_tree(tmp_path: Path) -> None:
    text = "base: &base {calls: [auth], port: 80}\nservices:\n  - *base\n  - *base\nname: &n feed\nalso: *n\n"
    data = load_document(_write(tmp_path, "t.yaml", text))
    assert data["services"] == [{"calls": ["auth"], "port": 80}] * 2
    assert data["also"] == "feed"
    data["services"][0]["calls"].append("x")
    assert data["base"]["calls"] == ["auth"] and data["services"][1]["calls"] == ["auth"]


def test_empty_and_comment_only_yaml_is_none(tmp_path: Path) -> None:
    assert load_document(_write(tmp_path, "empty.yaml", "")) is None
    assert load_document(_write(tmp_path, "comments.yaml", "# nothing\n---\n")) is None


def test_windows_line_ends_tabs_and_explicit_document_are_fine(tmp_path: Path) -> None:
    text = '---\r\nservices:\r\n  - name: a\r\n    note: "tab\there"\r\n...\r\n'
    assert load_document(_write(tmp_path, "t.yaml", text)) == {"services": [{"name": "a", "note": "tab\there"}]}
    assert load_document(_write(tmp_path, "t.json", '{\r\n\t"a": "\\t"\r\n}')) == {"a": "\t"}


def test_limits_are_inclusive(tmp_path: Path) -> None:
    """Exactly at each limit is accepted (the next tests refuse the limit plus one)."""
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_document(_write(tmp_path, "d.yaml", deepest)) is not None
    assert load_document(_write(tmp_path, "d.json", deepest)) is not None
    padded = '{"a": 1}' + " " * (MAX_FILE_BYTES - 8)
    assert load_document(_write(tmp_path, "big.json", padded)) == {"a": 1}
    # MAX_VALUES values: the list and MAX_VALUES - 1 numbers.
    many = "[" + ",".join(["1"] * (MAX_VALUES - 1)) + "]"
    assert len(load_document(_write(tmp_path, "many.json", many))) == MAX_VALUES - 1
    assert len(load_document(_write(tmp_path, "many.yaml", many))) == MAX_VALUES - 1


# ---------------------------------------------------------------------------------------------
# Amplification: billion laughs and friends

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # The classic: 9^9 "lol"s from 90 lines. Refused where the count passes MAX_VALUES.
        (BILLION_LAUGHS, 6),
        # Mappings instead of lists, block style.
        (
            "a: &a {x: 1, y: 2, z: 3, w: 4}\n"
            + "".join(
                f"l{i}: &l{i}\n" + "".join(f"  k{j}: *{'a' if i == 0 else f'l{i - 1}'}\n" for j in range(10))
                for i in range(8)
            ),
            None,
        ),
        # Quadratic: one wide anchor used many times in a flat list.
        ("a: &a [" + ", ".join(["x"] * 5000) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n", 2),
        # Many small aliases of a moderately big value, each on its own line.
        ("a: &a [" + ", ".join(["x"] * 1000) + "]\nb:\n" + "".join("  - *a\n" for _ in range(200)), None),
    ],
    ids=["lol-lists", "lol-mappings", "wide-anchor", "many-aliases"],
)
def test_alias_amplification_is_refused_without_building_it(tmp_path: Path, text: str, line: int | None) -> None:
    path = _write(tmp_path, "laughs.yaml", text)
    tracemalloc.start()
    try:
        message = _refused(path, rf"more than {MAX_VALUES} values \(an alias counts")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Memory, not time: at most about MAX_VALUES values were ever built (a few MiB), never the expansion.
    assert peak < 64 * 1024 * 1024, f"peak {peak} bytes"
    if line is not None:
        assert f": line {line}, column " in message


def test_alias_to_an_anchor_not_yet_complete_is_refused(tmp_path: Path) -> None:
    # A recursive structure (PyYAML's composer would build a list that contains itself).
    _refused(_write(tmp_path, "rec.yaml", "a: &a [1, *a]\n"), r"line 1, column 11: the alias \*a names no anchor")
    _refused(_write(tmp_path, "rec2.yaml", "a: &a {b: *a}\n"), r"line 1, column 11: the alias \*a names no anchor")
    _refused(_write(tmp_path, "undef.yaml", "a: *nowhere\n"), r"the alias \*nowhere names no anchor")


def test_an_alias_that_would_nest_too_deep_is_refused(tmp_path: Path) -> None:
    half = MAX_DEPTH // 2 + 1
    text = f"a: &deep {'[' * half}{']' * half}\nb: {'[' * half}*deep{']' * half}\n"
    _refused(_write(tmp_path, "deep-alias.yaml", text), rf"line 2, column {half + 4}: nested more than {MAX_DEPTH}")


# ---------------------------------------------------------------------------------------------
# Depth


@pytest.mark.parametrize(
    ("name", "text", "column"),
    [
        ("flow-lists.yaml", "[" * 10_000 + "]" * 10_000, MAX_DEPTH + 1),
        ("flow-maps.yaml", "{a: " * 10_000 + "1" + "}" * 10_000, 4 * MAX_DEPTH + 1),
        ("lists.json", "[" * 10_000 + "]" * 10_000, MAX_DEPTH + 1),
        ("objects.json", '{"a":' * 10_000 + "1" + "}" * 10_000, 5 * MAX_DEPTH + 1),
        ("unclosed.json", "[" * 10_000, MAX_DEPTH + 1),
        ("unclosed.yaml", "[" * 10_000, MAX_DEPTH + 1),
    ],
)
def test_ten_thousand_levels_are_refused_at_the_limit(tmp_path: Path, name: str, text: str, column: int) -> None:
    _refused(_write(tmp_path, name, text), rf"line 1, column {column}: nested more than {MAX_DEPTH} levels deep")


def test_deep_block_style_yaml_is_refused(tmp_path: Path) -> None:
    text = "".join("  " * level + "a:\n" for level in range(MAX_DEPTH + 1)) + "  " * (MAX_DEPTH + 1) + "b: 1\n"
    _refused(_write(tmp_path, "block.yaml", text), rf"line {MAX_DEPTH + 1}, column .*: nested more than {MAX_DEPTH}")
    lists = "".join("  " * level + "-\n" for level in range(MAX_DEPTH + 1)) + "  " * (MAX_DEPTH + 1) + "- 1\n"
    _refused(_write(tmp_path, "block-lists.yaml", lists), rf"nested more than {MAX_DEPTH} levels deep")


def test_limit_plus_one(tmp_path: Path) -> None:
    too_deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    _refused(_write(tmp_path, "d.yaml", too_deep), "nested more than")
    _refused(_write(tmp_path, "d.json", too_deep), "nested more than")
    _refused(
        _write(tmp_path, "big.json", '{"a": 1}' + " " * (MAX_FILE_BYTES - 7)),
        rf"has {MAX_FILE_BYTES + 1} bytes, more than the {MAX_FILE_BYTES}",
    )
    many = "[" + ",".join(["1"] * MAX_VALUES) + "]"
    _refused(_write(tmp_path, "many.json", many), rf"more than {MAX_VALUES} values$")
    _refused(_write(tmp_path, "many.yaml", many), rf"more than {MAX_VALUES} values")


# ---------------------------------------------------------------------------------------------
# Duplicate keys


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        # The case from issue 10: a second `services:` silently replaced the first list.
        (
            "services.yaml",
            "services:\n  - name: auth\n    image: x\ndefaults: {}\nservices:\n  - name: feed\n",
            r"line 5, column 1: the key 'services' appears twice in one mapping \(first at line 1\)",
        ),
        (
            "field.yaml",
            "services:\n  - name: auth\n    port: 80\n    name: feed\n",
            r"line 4, column 5: the key 'name' appears twice in one mapping \(first at line 2\)",
        ),
        (
            "env.yaml",
            "services:\n  - name: auth\n    environment:\n      A: 1\n      B: 2\n      A: 3\n",
            r"line 6, column 7: the key 'A' appears twice .*\(first at line 4\)",
        ),
        ("flow.yaml", "{a: 1, b: 2, a: 3}", r"line 1, column 14: the key 'a' appears twice"),
        ("quoted.yaml", "port: 1\n'port': 2\n", r"line 2, column 1: the key 'port' appears twice"),
        ("number-text.yaml", '1: a\n"1": b\n', r"line 2, column 1: the key '1' appears twice"),
        ("long.yaml", f"{'k' * 500}: 1\n{'k' * 500}: 2\n", r"the key 'k{40}'\.\.\. \(500 characters\) appears twice"),
        (
            "services.json",
            '{\n  "services": [{"name": "auth"}],\n  "defaults": {},\n  "services": []\n}',
            r"line 4, column 3: the key 'services' appears twice in one object \(first at line 2\)",
        ),
        (
            "nested.json",
            '{"services": [\n  {"name": "auth",\n   "name": "feed"}]}',
            r"line 3, column 4: the key 'name' appears twice .*\(first at line 2\)",
        ),
        (
            "deep.json",
            '{"s": [{"environment": {"A": "1", "B": {"x": 1}, \n "A": "2"}}]}',
            r"line 2, column 2: the key 'A' appears twice",
        ),
        ("escaped.json", '{"ab": 1, "a\\u0062": 2}', r"line 1, column 11: the key 'ab' appears twice"),
    ],
)
def test_duplicate_keys_are_errors_naming_key_and_lines(tmp_path: Path, name: str, text: str, match: str) -> None:
    _refused(_write(tmp_path, name, text), match)


def test_same_key_in_different_mappings_is_fine(tmp_path: Path) -> None:
    text = "services:\n  - name: a\n  - name: b\nother: {name: c}\n"
    assert load_document(_write(tmp_path, "t.yaml", text))["other"] == {"name": "c"}
    assert load_document(_write(tmp_path, "t.json", '[{"a": 1}, {"a": 2}]')) == [{"a": 1}, {"a": 2}]


# ---------------------------------------------------------------------------------------------
# Encoding


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("latin1.yaml", "name: café\n".encode("latin-1"), r"line 1, column 10: byte 0xe9 is not UTF-8"),
        ("truncated.yaml", b"a: 1\nname: caf" + b"\xc3", r"line 2, column 10: byte 0xc3 is not UTF-8"),
        ("overlong.json", b'{"a": "\xc0\xaf"}', r"line 1, column 8: byte 0xc0 is not UTF-8"),
        ("surrogate.yaml", b"a: \xed\xa0\x80\n", r"byte 0xed is not UTF-8"),
        ("utf16.yaml", "a: 1\n".encode("utf-16"), r"starts with a UTF-16 byte order mark"),
        ("utf16be.json", b"\xfe\xff" + '{"a": 1}'.encode("utf-16-be"), r"starts with a UTF-16 byte order mark"),
        ("utf32.yaml", "a: 1\n".encode("utf-32"), r"starts with a UTF-32 byte order mark"),
        ("bom.yaml", b"\xef\xbb\xbfa: 1\n", r"starts with a UTF-8 byte order mark"),
        ("bom.json", b'\xef\xbb\xbf{"a": 1}', r"starts with a UTF-8 byte order mark"),
        ("utf16-no-bom.json", '{"a": 1}'.encode("utf-16-le"), r"line 1, column 2: a NUL byte \(is it UTF-16"),
        ("binary.yaml", bytes(range(256)), r"line 1, column 1: a NUL byte"),
    ],
)
def test_files_that_are_not_utf8_are_refused(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    _refused(_write(tmp_path, name, content), match)


# ---------------------------------------------------------------------------------------------
# Control characters


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("esc.yaml", "name: auth\x1b[2J\n", r"line 1, column 11: the control character U\+001B"),
        ("bell.json", '{"a": 1,\n "b": "\x07"}', r"line 2, column 8: the control character U\+0007"),
        ("del.yaml", "a: x\x7f\n", r"the control character U\+007F"),
        ("nel.yaml", "a: 1\x85b: 2\n", r"the control character U\+0085"),
        ("line-separator.yaml", "a: 1\u2028b: 2\n", r"the control character U\+2028"),
        ("bidi.yaml", "name: \u202eauth\n", r"line 1, column 7: the control character U\+202E"),
        ("bom-inside.yaml", "a: \ufeff1\n", r"the control character U\+FEFF"),
        ("escape-yaml.yaml", 'a: "x\\e[31m"\n', r"line 1, column 4: 'x\\x1b\[31m' holds a forbidden character"),
        ("escape-bell.yaml", 'a: "\\a"\n', r"holds a forbidden character: the control character U\+0007"),
        ("escape-key.yaml", '"k\\0": 1\n', r"holds a forbidden character: the control character U\+0000"),
        ("escape-json.json", '{"a": "x\\u001b"}', r"line 1, column 7: 'x\\x1b' holds a forbidden character"),
        ("escape-key.json", '{"ok": 1,\n "k\\u202e": 1}', r"line 2, column 2: 'k\\u202e' holds a forbidden"),
        ("surrogate.json", '{"a": "\\ud800"}', r"line 1, column 7: '\\ud800' holds a forbidden .* U\+D800"),
        ("surrogate-pair.json", '["\\udfff\\ud800"]', r"the control character U\+DFFF"),
        # libyaml refuses this escape itself; PyYAML's pure-Python reader leaves it to the loader.
        (
            "surrogate.yaml",
            'a: "\\ud800"\n',
            r"line 1, column \d: .*(holds a forbidden|invalid Unicode character escape)",
        ),
    ],
)
def test_control_characters_raw_or_escaped_are_refused(tmp_path: Path, name: str, text: str, match: str) -> None:
    _refused(_write(tmp_path, name, text), match)


# ---------------------------------------------------------------------------------------------
# Tags beyond the core schema, merge keys, keys that are not text


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a: !!python/object:os.system {}\n", r"line 1, column 4: the tag !!python/object:os.system is not allowed"),
        ("a: !!python/object/apply:os.system ['echo pwned']\n", r"the tag !!python/object/apply:os.system is not"),
        ("a: !!python/name:builtins.exec ''\n", r"the tag !!python/name:builtins.exec is not allowed"),
        ("a: !Ref Vpc\n", r"the tag !Ref is not allowed; allowed: !!str, !!int"),
        ("a: !!binary aGVsbG8=\n", r"the tag !!binary is not allowed"),
        ("a: !!set {x, y}\n", r"the tag !!set is not allowed"),
        ("a: !!omap [x: 1]\n", r"the tag !!omap is not allowed"),
        ("a: !!timestamp 2024-01-01\n", r"the tag !!timestamp is not allowed"),
        (
            "%TAG !p! tag:yaml.org,2002:python/\n---\na: !p!object:os.system {}\n",
            r"line 3, column 4: the tag !!python/",
        ),
        ("!!python/object:x a: 1\n", r"the key 'a' has the tag !!python/object:x; keys are text"),
        ("!!int 1: a\n", r"the key '1' has the tag !!int; keys are text"),
        ("a: !!int twelve\n", r"'twelve' is not a valid !!int"),
        ("a: !!bool maybe\n", r"'maybe' is not a valid !!bool"),
        ("a: !!null x\n", r"'x' is not a valid !!null"),
        (f"a: !{'x' * 300} 1\n", r"the tag !x{79}\.\.\. is not allowed"),
    ],
)
def test_tags_beyond_the_core_schema_are_refused(tmp_path: Path, text: str, match: str) -> None:
    _refused(_write(tmp_path, "tags.yaml", text), match)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("base: &b {port: 80}\nauth:\n  <<: *b\n  port: 8080\n", 3),
        ("auth: {<<: {port: 80}, port: 8080}\n", 1),
        ("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  name: c\n  <<: [*a, *b]\n", 5),
    ],
)
def test_merge_keys_are_refused(tmp_path: Path, text: str, line: int) -> None:
    _refused(_write(tmp_path, "merge.yaml", text), rf"line {line}, column \d+: a merge key \('<<'\) is not allowed")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("? [a, b]\n: 1\n", r"a mapping key must be text, not a list or mapping"),
        ("{a: 1}: 2\n", r"a mapping key must be text, not a list or mapping"),
        ("x: &k key\ny: {*k : 1}\n", r"line 2, column 5: a mapping key must be text, not an alias"),
    ],
)
def test_keys_that_are_not_text_are_refused(tmp_path: Path, text: str, match: str) -> None:
    _refused(_write(tmp_path, "keys.yaml", text), match)


# ---------------------------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("nan.yaml", "a: .nan\n", r"line 1, column 4: '\.nan': NaN and infinite numbers are not allowed"),
        ("nan2.yaml", "a: .NaN\n", r"NaN and infinite numbers are not allowed"),
        ("inf.yaml", "a: [1, .inf]\n", r"line 1, column 8: '\.inf': NaN and infinite"),
        ("neg-inf.yaml", "a: -.Inf\n", r"NaN and infinite numbers are not allowed"),
        ("overflow.yaml", "a: 1.0e+999\n", r"'1\.0e\+999': NaN and infinite numbers are not allowed"),
        ("explicit.yaml", "a: !!float .nan\n", r"NaN and infinite numbers are not allowed"),
        ("nan.json", '{"a": NaN}', r"line 1, column 7: NaN: NaN and infinite numbers are not allowed"),
        ("inf.json", '{"a": [1,\n Infinity]}', r"line 2, column 2: Infinity: NaN and infinite"),
        ("neg-inf.json", "[-Infinity]", r"-Infinity: NaN and infinite numbers are not allowed"),
        ("overflow.json", '{"a": 1e400}', r"line 1, column 7: '1e400' is too large for a finite number"),
        ("neg-overflow.json", "[-1.5e999]", r"'-1\.5e999' is too large for a finite number"),
        ("huge-int.json", '{"a": ' + "9" * 5000 + "}", r"line 1, column 7: a number the parser refuses"),
        ("huge-int.yaml", "a: " + "9" * 5000 + "\n", r"'9{40}'\.\.\. \(5000 characters\) is not a valid !!int"),
    ],
)
def test_nan_infinity_and_unbounded_numbers_are_refused(tmp_path: Path, name: str, text: str, match: str) -> None:
    _refused(_write(tmp_path, name, text), match)


def test_large_finite_numbers_are_kept(tmp_path: Path) -> None:
    data = load_document(_write(tmp_path, "n.json", '{"a": 1e308, "b": 123456789012345678901234567890, "c": -0.0}'))
    assert data == {"a": 1e308, "b": 123456789012345678901234567890, "c": -0.0}


# ---------------------------------------------------------------------------------------------
# Size, files and documents


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("huge.yaml", b"a: " + b"x" * (2 * MAX_FILE_BYTES)),
        ("huge.json", b'["' + b"x" * MAX_FILE_BYTES + b'"]'),
        ("huge-comments.yaml", b"# padding\n" * (MAX_FILE_BYTES // 10 + 1)),
    ],
)
def test_files_over_the_size_limit_are_refused_unread(tmp_path: Path, name: str, content: bytes) -> None:
    _refused(_write(tmp_path, name, content), rf"the file has {len(content)} bytes, more than the {MAX_FILE_BYTES}")


def test_paths_that_are_not_regular_readable_files(tmp_path: Path) -> None:
    _refused(tmp_path / "missing.yaml", r"missing\.yaml: cannot be read: No such file or directory")
    (tmp_path / "folder.yaml").mkdir()
    _refused(tmp_path / "folder.yaml", r"folder\.yaml: expected a regular file")
    _refused(_write(tmp_path, "topology.txt", "a: 1\n"), r"topology\.txt: expected a \.yaml, \.yml or \.json file")
    _refused(_write(tmp_path, "noext", "a: 1\n"), r"expected a \.yaml, \.yml or \.json file")


def test_devices_are_not_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    _refused(link, r"zero\.yaml: expected a regular file")


@pytest.mark.parametrize("path", [42, None, b"t.yaml", ["t.yaml"]])
def test_a_path_of_the_wrong_type_is_refused(path: Any) -> None:
    with pytest.raises(ValidationError, match=r"^path=.* is not valid: expected a file path \(str or pathlib\.Path\)$"):
        load_document(path)


def test_a_file_name_with_a_newline_is_quoted(tmp_path: Path) -> None:
    path = _write(tmp_path, "a\nb.yaml", "a: 1\na: 2\n")
    with pytest.raises(ValidationError) as caught:
        load_document(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(repr(str(path)))


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("two.yaml", "a: 1\n---\nb: 2\n", r"line 2, column 1: a second document \('---'\); expected exactly one"),
        ("broken.yaml", "services: [\n", r"not valid YAML: line 2, column 1: "),
        ("tab.yaml", "a:\n\tb: 1\n", r"not valid YAML: line 2, column 1: "),
        ("bad-escape.yaml", 'a: "\\q"\n', r"not valid YAML: line 1, column 5: .*unknown escape character"),
        ("broken.json", '{"a": 1,}', r"not valid JSON: line 1, column 9: Expecting property name"),
        ("two.json", '{"a": 1}\n{"b": 2}', r"not valid JSON: line 2, column 1: Extra data"),
        ("empty.json", "", r"not valid JSON: line 1, column 1: Expecting value"),
        ("single-quotes.json", "{'a': 1}", r"not valid JSON: line 1, column 2"),
        ("raw-newline.json", '{"a": "x\ny"}', r"not valid JSON: line 1, column 9: Invalid control character"),
    ],
)
def test_syntax_errors_and_extra_documents_are_one_line_with_the_position(
    tmp_path: Path, name: str, text: str, match: str
) -> None:
    _refused(_write(tmp_path, name, text), match)


# ---------------------------------------------------------------------------------------------
# Without libyaml: PyYAML's pure-Python parser gives the same results


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("laughs.yaml", BILLION_LAUGHS, rf"line 6, column \d+: more than {MAX_VALUES} values"),
        ("deep.yaml", "[" * 10_000 + "]" * 10_000, rf"line 1, column {MAX_DEPTH + 1}: nested more than {MAX_DEPTH}"),
        ("dup.yaml", "services: []\nservices: [a]\n", r"line 2, column 1: the key 'services' appears twice"),
        ("tag.yaml", "a: !!python/object/apply:os.system [x]\n", r"line 1, column 4: the tag !!python/object/apply"),
        ("merge.yaml", "a: &a {x: 1}\nb: {<<: *a}\n", r"line 2, column 5: a merge key"),
        ("nan.yaml", "a: .nan\n", r"NaN and infinite numbers are not allowed"),
        (
            "surrogate.yaml",
            'a: "\\ud800"\n',
            r"line 1, column \d: .*(holds a forbidden|invalid Unicode character escape)",
        ),
        ("broken.yaml", "services: [\n", r"not valid YAML: line 2, column 1: "),
    ],
)
def test_the_pure_python_parser_refuses_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, match: str
) -> None:
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    _refused(_write(tmp_path, name, text), match)


def test_the_pure_python_parser_reads_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "t.yaml", yaml.safe_dump(TOPOLOGY, sort_keys=False) + "x: &x [1]\ny: *x\n")
    with_libyaml = load_document(path)
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    assert load_document(path) == with_libyaml == {**TOPOLOGY, "x": [1], "y": [1]}
