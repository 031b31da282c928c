"""YAML files that people edit, read into typed models, with errors that name file, line and key.

The source registry (sources/registry.py) and the catalogue (schemas/catalogue.py) are YAML
files edited by the backbone office. Both are read the same way:

- `read_yaml` parses a file and remembers where every key and value stands (file, line, the
  scalar as written), notes keys given twice, and recognises a decimal comma in a flow mapping
  (`{value: 4,5}` parses as `{value: 4, "5": null}`; it becomes the text '4,5' again, so that a
  number field rejects it instead of silently reading 4);
- models derive from `YamlModel`: strict types, unknown keys rejected;
- `validate` runs a model over the data and turns every pydantic error into one plain line:

      kita_betreuung.yaml, line 21, key 'mapping.region.by': 'nam' is not one of key, name, …

All mistakes of a file are collected and raised together as one `YamlError` (one line each).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_INT_TAG = "tag:yaml.org,2002:int"
_NULL_TAG = "tag:yaml.org,2002:null"


# --- problems -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One mistake in a YAML file: where it is and what is wrong, as one plain line."""

    file: str
    line: int | None = None
    key: str | None = None
    message: str = ""
    column: int = field(default=0, repr=False)  # orders the problems of one line; not shown

    def __str__(self) -> str:
        where = [self.file] if self.file else []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.key:
            where.append(f"key '{self.key}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class YamlError(ValueError):
    """Every mistake found in one or more YAML files; str() gives one line per mistake."""

    def __init__(self, problems: str | Iterable[Problem]) -> None:
        if isinstance(problems, str):
            problems = [Problem("", message=problems)]
        self.problems: tuple[Problem, ...] = tuple(dict.fromkeys(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def sort_problems(problems: Iterable[Problem], first_file: str | None = None) -> list[Problem]:
    """By file (`first_file` first), then line; duplicates dropped."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file != first_file, p.file, p.line or 0, p.column))


def dotted(path: Loc) -> str:
    """('mapping', 'region', 'by') -> mapping.region.by; ('indicators', 0, 'target') ->
    indicators[0].target; keys that are not names -> values["Abgänger weiblich"]."""
    text = ""
    for part in path:
        if type(part) is int:  # a list index (a YAML key 01 is an _Int and shows as written)
            text += f"[{part}]"
            continue
        name = getattr(part, "written", str(part))
        if name.isidentifier():
            text += f".{name}" if text else name
        else:
            text += f'["{name}"]'
    return text


def did_you_mean(word: object, known: Iterable[str]) -> str:
    """' — did you mean 'by'?' if a known word is close to `word`, else ''."""
    word = str(word)
    # short words differ by one letter (bx -> by); long ones must share more than a prefix
    cutoff = 0.5 if len(word) <= 3 else 0.7
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    return f" — did you mean '{close[0]}'?" if close else ""


def listing(values: Iterable[object]) -> str:
    """Allowed values as people read them: key, name, school_number; ',' and '.' quoted."""
    return ", ".join(str(v) if re.fullmatch(r"\w[\w./:-]*", str(v)) else repr(v) for v in values)


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a key and its value stand: the key's line (an item's line in a list), the line
    the value starts on, and a scalar value as written in the file."""

    file: str
    line: int
    value_line: int
    text: str | None = None
    column: int = 0  # of the key (an item), to order problems on one line
    value_column: int = 0


@dataclass
class Document:
    """A YAML file as plain data, with the position of every key and value (by path)."""

    file: str
    data: Any
    positions: dict[Loc, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # found while reading

    def locate(self, loc: Loc) -> tuple[Loc, Any, Loc]:
        """Follow `loc` through the data: (the part found, the value there, the rest).
        Parts that are not in the data (pydantic's union tags, a missing key) are passed
        over, so a model's error path maps back to the file's keys."""
        node, found, rest = self.data, [], []
        for part in loc:
            key = _key_in(node, part)
            if key is _ABSENT:
                rest.append(part)
                continue
            found.append(key)
            node = node[key]
        return tuple(found), node, tuple(rest)

    def position(self, path: Loc) -> Position:
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path) or Position(self.file, 1, 1)

    def problem(self, loc: Loc, message: str, at: Literal["value", "key", "missing"] = "value"):
        """A problem at `loc`: at the value's line, the key's line, or (a missing key) the
        line of the mapping that lacks it."""
        found, _, rest = self.locate(loc)
        key = found + (rest[-1:] if at == "missing" else ())
        pos = self.position(found)
        if at == "value":
            return Problem(pos.file, pos.value_line, dotted(key) or None, message, pos.value_column)
        return Problem(pos.file, pos.line, dotted(key) or None, message, pos.column)


_ABSENT = object()


def _key_in(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        if part in node:
            return next(key for key in node if key == part)  # the key as read (05 as written)
        for key in node:  # a YAML key 01 read as text '01' by a model
            if not isinstance(key, str) and getattr(key, "written", str(key)) == str(part):
                return key
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return part
    return _ABSENT


def read_yaml(path: Path, name: str | None = None) -> Document:
    """Parse a YAML file (safe types only) into a Document; `name` is how messages call the
    file (default: its name). Raises YamlError if the file is missing or not YAML."""
    name = name or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlError([Problem(name, message=f"file not found ({path})")]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise YamlError([Problem(name, line, message="not UTF-8 text; save it as UTF-8")]) from None
    loader = yaml.SafeLoader(text)
    doc = Document(name, None)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.positions[()] = Position(name, node.start_mark.line + 1, node.start_mark.line + 1)
            doc.data = _build(loader, node, (), doc)
    except yaml.MarkedYAMLError as exc:
        raise YamlError([_syntax_problem(name, exc)]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Problem(name, message=f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return doc


def _syntax_problem(name: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = f"not valid YAML: {exc.problem or exc.context}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} from line {exc.context_mark.line + 1})"
    return Problem(name, mark.line + 1 if mark else None, message=message)


def _build(loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, doc: Document) -> Any:
    if isinstance(node, yaml.MappingNode):
        own = {id(k) for k, _ in node.value}  # keys written here, not merged in by <<: *base
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        first: dict[Any, int] = {}
        previous: tuple[Any, yaml.Node] | None = None
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node)
            line = key_node.start_mark.line + 1
            if isinstance(key, list | dict):
                doc.problems.append(
                    Problem(doc.file, line, dotted(loc) or None, "a key must be a plain word")
                )
                continue
            if node.flow_style and previous and _decimal_comma(previous[1], key_node, value_node):
                # {value: 4,5} reads as {value: 4, 5: null}: give the number back as written
                before, number = previous
                written = f"{number.value},{key_node.value}"
                result[before] = written
                at = (*loc, before)
                doc.positions[at] = dataclasses.replace(doc.positions[at], text=written)
                previous = None
                continue
            if key in first and id(key_node) in own:
                doc.problems.append(
                    Problem(
                        doc.file,
                        line,
                        dotted((*loc, key)),
                        f"given twice (also on line {first[key]}); keep one",
                    )
                )
            if id(key_node) in own:
                first.setdefault(key, line)
            # a scalar is reported where it stands, a mapping or a list at its key
            value = value_node if _written(value_node) is not None else key_node
            doc.positions[(*loc, key)] = Position(
                doc.file, line, value.start_mark.line + 1, _written(value_node),
                key_node.start_mark.column, value.start_mark.column,
            )  # fmt: skip
            result[key] = _build(loader, value_node, (*loc, key), doc)
            previous = (key, value_node)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, child in enumerate(node.value):
            line, column = child.start_mark.line + 1, child.start_mark.column
            doc.positions[(*loc, i)] = Position(
                doc.file, line, line, _written(child), column, column
            )
            items.append(_build(loader, child, (*loc, i), doc))
        return items
    return _scalar(loader, node)


class _Int(int):
    """An integer that remembers how it was written (05, 1_000), for keys that take text."""

    written: str


class _Float(float):
    written: str


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    value = loader.construct_object(node, deep=True)
    if type(value) in (int, float) and isinstance(node, yaml.ScalarNode):
        value = (_Int if type(value) is int else _Float)(value)
        value.written = node.value
    return value


def plain(value: Any) -> Any:
    """Data of a Document with its numbers as plain int and float again."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, _Int):
        return int(value)
    if isinstance(value, _Float):
        return float(value)
    return value


def _written(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _decimal_comma(number: yaml.Node, key: yaml.Node, value: yaml.Node) -> bool:
    """`4,5` inside {…}: an integer, a comma, and right after it a bare digits-only key
    without a value."""
    return (
        isinstance(number, yaml.ScalarNode)
        and number.tag == _INT_TAG
        and number.style is None
        and re.fullmatch(r"[-+]?\d+", number.value) is not None
        and isinstance(key, yaml.ScalarNode)
        and key.style is None
        and key.value.isdigit()
        and isinstance(value, yaml.ScalarNode)
        and value.tag == _NULL_TAG
        and value.value == ""
        and key.start_mark.index == number.end_mark.index + 1
    )


# --- models -------------------------------------------------------------------------------------


def _number_as_text(value: Any) -> Any:
    """Column names, labels and codes are text; a YAML number there is meant as text, as
    written (01 -> '01', not '1')."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return getattr(value, "written", str(value))
    return value


#: text; a number is taken as written (2012 -> '2012', 01 -> '01')
Text = Annotated[str, BeforeValidator(_number_as_text)]


class YamlModel(BaseModel):
    """A mapping in a YAML file: strict types, no unknown keys. An empty value (`key:`) of an
    optional key means "not given" and takes the default."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        if isinstance(info.context, dict):  # for the "unknown key" message
            keys = [f.alias or name for name, f in cls.model_fields.items()]
            info.context.setdefault("known_keys", {})[id(data)] = keys
        empty = [
            k
            for k, v in data.items()
            if v is None
            and k in cls.model_fields
            and not cls.model_fields[k].is_required()
            and cls.model_fields[k].default is not None
        ]
        return {k: v for k, v in data.items() if k not in empty} if empty else data


def expected(what: str) -> PydanticCustomError:
    """An error saying what a key takes; the message adds what it got."""
    return PydanticCustomError("expected", "expected {what}", {"what": what})


M = TypeVar("M", bound=BaseModel)


def validate(
    model: type[M], value: Any, doc: Document, problems: list[Problem], at: Loc = ()
) -> M | None:
    """`value` (the part of `doc.data` at `at`) as a `model`; None and the problems added to
    `problems` if it is not one."""
    context: dict[str, Any] = {}
    try:
        return model.model_validate(value, context=context)
    except ValidationError as exc:
        known = context.get("known_keys", {})
        problems += [_problem(error, at, doc, known) for error in exc.errors(include_url=False)]
        return None


_TYPES = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def _problem(error: Any, at: Loc, doc: Document, known: dict[int, list[str]]) -> Problem:
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    loc = (*at, *error["loc"])
    if kind in ("union_tag_invalid", "union_tag_not_found") and "discriminator" in ctx:
        # a discriminated union picks its model by a key (kind: rate | gap)
        (tag_key,) = _QUOTED.findall(ctx["discriminator"]) or [ctx["discriminator"]]
        loc = (*loc, tag_key)
        if kind == "union_tag_not_found":
            return doc.problem(loc, "missing (required)", at="missing")
        tags = _QUOTED.findall(ctx.get("expected_tags", ""))
        tag = ctx.get("tag")
        return doc.problem(
            loc, f"{_shown(tag)} is not one of {listing(tags)}{did_you_mean(tag, tags)}"
        )
    if kind == "missing":
        return doc.problem(loc, "missing (required)", at="missing")
    found, _, rest = doc.locate(loc)
    written = doc.positions.get(found) if not rest else None
    shown = _shown(value, written)
    if kind == "extra_forbidden":
        parent = doc.locate(found[:-1])[1]
        keys = known.get(id(parent), [])
        message = "unknown key"
        if keys:
            message += f"; expected one of {listing(keys)}{did_you_mean(found[-1], keys)}"
        return doc.problem(loc, message, at="key")
    if kind in _TYPES:
        return doc.problem(loc, _wrong_type(_TYPES[kind], value, shown))
    if kind == "literal_error":
        allowed = _QUOTED.findall(ctx.get("expected", ""))
        return doc.problem(
            loc, f"{shown} is not one of {listing(allowed)}{did_you_mean(value, allowed)}"
        )
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        limit = next(iter(ctx.values()))
        return doc.problem(loc, f"expected a number {bound} {limit}, got {shown}")
    if kind == "too_short":
        return doc.problem(loc, f"expected at least {ctx.get('min_length')} entry, got none")
    if kind == "expected":
        return doc.problem(loc, f"{error['msg']}, got {shown}")
    if kind == "value_error":
        return doc.problem(loc, str(ctx.get("error", error["msg"])))
    return doc.problem(loc, error["msg"])


def _shown(value: Any, written: Position | None = None) -> str:
    """A value in a message: 'text' in quotes, a number or date as written in the file."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (the value is empty)"
    if written is not None and written.text is not None:
        return written.text
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _wrong_type(wanted: str, value: Any, shown: str) -> str:
    numeric = wanted in ("a number", "a whole number")
    if numeric and isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value.strip()):
        return f"{shown} — a decimal comma? YAML numbers take a point: {value.replace(',', '.')}"
    message = f"expected {wanted}, got {shown}"
    if wanted == "text" and isinstance(value, bool | int | float | dt.date):
        # yes/no/on/off are booleans, 05 an (octal) number, 2024-03-01 a date — unless quoted
        text = shown.strip("'")
        message += f' — put it in quotes: "{text}"'
    return message
