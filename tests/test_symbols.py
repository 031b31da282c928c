"""Cells -> (value, status): the official symbols, flags, number formats and unreadable cells."""

from __future__ import annotations

import pytest

from sources.symbols import CellError, NumberFormat, parse_cell, parse_number

COMMA = NumberFormat(decimal=",")
POINT = NumberFormat(decimal=".")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("-", (0.0, "ok")),
        ("–", (0.0, "ok")),  # en dash, as some exports write it
        (".", (None, "suppressed")),
        ("x", (None, "not_applicable")),
        ("X", (None, "not_applicable")),
        ("/", (None, "unreliable")),
        ("...", (None, "not_available")),
        ("…", (None, "not_available")),
        ("", (None, "not_available")),
        ("   ", (None, "not_available")),
        (None, (None, "not_available")),
    ],
)
def test_official_symbols(cell: str | None, expected: tuple[float | None, str]) -> None:
    assert parse_cell(cell) == expected


def test_only_the_dash_is_a_zero() -> None:
    zeros = [c for c in ("-", ".", "x", "/", "...", "") if parse_cell(c)[0] == 0.0]
    assert zeros == ["-"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("(12)", (12.0, "unreliable")),
        ("(12,5)", (12.5, "unreliable")),
        ("123 p", (123.0, "provisional")),
        ("123p", (123.0, "provisional")),
        ("12,5 p", (12.5, "provisional")),
        ("123 e", (123.0, "estimated")),
        ("123e", (123.0, "estimated")),
        ("123 r", (123.0, "ok")),
        ("123r", (123.0, "ok")),
        ("  42  ", (42.0, "ok")),
        ("0", (0.0, "ok")),
    ],
)
def test_numbers_with_flags(cell: str, expected: tuple[float, str]) -> None:
    assert parse_cell(cell) == expected


def test_decimal_comma() -> None:
    assert parse_cell("12,5", COMMA) == (12.5, "ok")
    assert parse_number("0,25", COMMA) == 0.25


def test_decimal_point() -> None:
    assert parse_cell("12.5", POINT) == (12.5, "ok")
    assert parse_cell("(3.5)", POINT) == (3.5, "unreliable")
    assert parse_cell("7.25 p", POINT) == (7.25, "provisional")


def test_decimal_point_where_comma_is_declared_is_an_error() -> None:
    with pytest.raises(CellError) as exc:
        parse_cell("12.5", COMMA)
    assert str(exc.value) == "'12.5' uses '.'; expected a number with decimal ','"


def test_decimal_comma_where_point_is_declared_is_an_error() -> None:
    with pytest.raises(CellError, match=r"'12,5' uses ','; expected a number with decimal '\.'"):
        parse_cell("12,5", POINT)


@pytest.mark.parametrize("cell", ["1.234", "12.345.678", "1.234,5", "1.234 p", "(1.234)"])
def test_undeclared_thousands_separator_says_how_to_declare_it(cell: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_cell(cell, COMMA)
    message = str(exc.value)
    assert "thousands separator '.'" in message
    assert 'declare `thousands: "."` in the source' in message
    assert "decimal comma" in message


def test_undeclared_thousands_comma_in_a_decimal_point_source_says_how_to_declare_it() -> None:
    with pytest.raises(CellError) as exc:
        parse_cell("1,234", POINT)
    message = str(exc.value)
    assert "thousands separator ','" in message
    assert 'declare `thousands: ","` in the source' in message


def test_declared_thousands_are_accepted() -> None:
    dotted = NumberFormat(decimal=",", thousands=".")
    assert parse_cell("1.234", dotted) == (1234.0, "ok")
    assert parse_cell("12.345.678", dotted) == (12345678.0, "ok")
    assert parse_cell("1.234,5", dotted) == (1234.5, "ok")
    assert parse_cell("1.234 p", dotted) == (1234.0, "provisional")
    assert parse_cell("(1.234)", dotted) == (1234.0, "unreliable")
    commas = NumberFormat(decimal=".", thousands=",")
    assert parse_cell("1,234.5", commas) == (1234.5, "ok")


def test_declared_thousands_separator_must_group_three_digits() -> None:
    with pytest.raises(CellError):
        parse_cell("1.5", NumberFormat(decimal=",", thousands="."))


@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("https://example.org";"12")', "=SUMME(A1:A3)", "=1+2", "@SUM(A1)"],
)
def test_spreadsheet_formula_is_an_error(cell: str) -> None:
    with pytest.raises(CellError, match="is a spreadsheet formula, not a value"):
        parse_cell(cell)


def test_formula_message_quotes_at_most_40_characters() -> None:
    formula = '=HYPERLINK("https://example.org/a/very/long/path/to/a/page";"12")'
    with pytest.raises(CellError) as exc:
        parse_cell(formula)
    assert str(exc.value) == f"{formula[:40]!r} is a spreadsheet formula, not a value"


@pytest.mark.parametrize("cell", ["abc", "n/a", "zwölf", "p", "12Schüler"])
def test_text_is_an_error_that_says_what_was_expected(cell: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_cell(cell, COMMA)
    message = str(exc.value)
    assert message.startswith(f"{cell!r} is not a number or a statistical symbol")
    assert "expected e.g. 1234,5, '-', '.', 'x', '/', '...'" in message


@pytest.mark.parametrize("cell", ["keine Angabe", "12 Schüler"])
def test_text_with_spaces_is_an_error_that_says_what_was_expected(cell: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_cell(cell, COMMA)
    message = str(exc.value)
    assert message.startswith(repr(cell))
    assert "expected" in message
    assert "1234,5" in message


def test_text_message_shows_the_declared_decimal() -> None:
    with pytest.raises(CellError, match=r"expected e\.g\. 1234\.5"):
        parse_cell("abc", POINT)


def test_cell_error_is_a_value_error() -> None:
    assert issubclass(CellError, ValueError)


def test_parse_number_ignores_spaces_inside_the_number() -> None:
    assert parse_number(" 1\u00a0234 ", COMMA) == 1234.0


def test_spaces_must_group_three_digits() -> None:
    assert parse_cell("1 234 567,5", COMMA) == (1234567.5, "ok")
    with pytest.raises(CellError) as exc:
        parse_cell("12 34", COMMA)
    assert str(exc.value).startswith("'12 34'")
    assert "1234,5" in str(exc.value)


def test_number_format_defaults() -> None:
    fmt = NumberFormat()
    assert (fmt.decimal, fmt.thousands) == (",", None)
    assert parse_cell("12,5") == (12.5, "ok")  # the default format is decimal comma


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "Infinity", "1_000"])
def test_python_float_spellings_are_not_numbers(cell: str) -> None:
    with pytest.raises(CellError, match="is not a number"):
        parse_cell(cell)


URBAN = NumberFormat(
    decimal=".",
    symbols=(("-1", "not_available"), ("-2", "not_applicable"), ("-3", "suppressed"),
             ("k.A.", "not_available"), ("x", "suppressed")),
)  # fmt: skip


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("-1", (None, "not_available")),
        ("-1.0", (None, "not_available")),  # a JSON number
        (" -3 ", (None, "suppressed")),
        ("-2", (None, "not_applicable")),
        ("k.A.", (None, "not_available")),
        ("x", (None, "suppressed")),  # the source's own meaning wins over the official one
        ("-4", (-4.0, "ok")),  # not declared: a number (a count check may still refuse it)
        ("12", (12.0, "ok")),
        (".", (None, "suppressed")),  # the official symbols still hold
    ],
)
def test_declared_codes_are_statuses_never_numbers(
    cell: str, expected: tuple[float | None, str]
) -> None:
    assert parse_cell(cell, URBAN) == expected
    assert parse_cell("-1", POINT) == (-1.0, "ok")  # undeclared elsewhere


def test_the_declared_codes_of_docs_sources_md() -> None:
    """docs/sources.md, "Symbols and empty cells": its `format:` example, as a registry reads it."""
    import re

    import yaml

    from sources.registry import FormatSpec
    from tests.conftest import REPO

    text = (REPO / "docs/sources.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "symbols:" in b]
    spec = FormatSpec.model_validate(yaml.safe_load(block)["format"])
    fmt = NumberFormat(decimal=spec.decimal, symbols=tuple(spec.symbols.items()))
    assert [parse_cell(c, fmt) for c in ("-1", "-2", "-3", "k.A.", "-3.0", "7")] == [
        (None, "not_available"), (None, "not_applicable"), (None, "suppressed"),
        (None, "not_available"), (None, "suppressed"), (7.0, "ok"),
    ]  # fmt: skip
