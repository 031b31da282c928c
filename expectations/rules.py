"""Expectations as SQL: each supported expectation type, translated to predicates over a relation.

Great Expectations evaluates a suite row by row in pandas; at national scale that costs minutes
and gigabytes. Here every expectation becomes SQL that DuckDB evaluates over the whole relation
at once, with Great Expectations' own semantics (measured against GX 1.24, and checked against
it on every pipeline run — expectations/gx_check.py):

- a row condition (`row_condition`, pandas syntax) narrows the rows the expectation looks at;
  `element_count` counts those rows;
- missing values (NULL) are not counted for column expectations (except `to_be_null` /
  `to_not_be_null`, which are about them): `mostly` is the share of non-missing rows that must
  pass; a pair ignores rows where either value is missing; a compound key ignores rows where
  every value is missing;
- uniqueness flags every row of a duplicated value, not only the repeats;
- with no row to consider, an expectation passes.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Any, Literal

from expectations.suites import Expectation, Suite, SuiteError

Kind = Literal["map", "unique", "aggregate"]

# DuckDB column types as pandas names them (what expect_column_values_to_be_in_type_list sees)
PANDAS_DTYPES = {
    "DOUBLE": "float64",
    "FLOAT": "float32",
    "BIGINT": "int64",
    "INTEGER": "int32",
    "SMALLINT": "int16",
    "TINYINT": "int8",
    "BOOLEAN": "bool",
    "VARCHAR": "object",
    "TIMESTAMP": "datetime64[us]",
    "DATE": "datetime64[us]",
}


def quote(column: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + column.replace('"', '""') + '"'


def same_keys(columns: tuple[str, ...] | list[str], left: str, right: str) -> str:
    """SQL join condition: `left` and `right` agree on every column, NULL matching NULL."""
    return " AND ".join(
        f"{left}.{quote(c)} IS NOT DISTINCT FROM {right}.{quote(c)}" for c in columns
    )


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Rule:
    """One expectation over a relation, as SQL."""

    expectation: Expectation
    kind: Kind
    domain: str  # the rows the expectation looks at (its row condition), or TRUE
    considered: str  # of those, the rows that count for `mostly` (not missing)
    unexpected: str  # map kinds: of the considered rows, the failing ones
    partition: tuple[str, ...] = ()  # unique kinds: the key columns


def _param(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        name = value["$PARAMETER"]
        if name not in parameters:
            raise SuiteError(f"suite parameter {name!r} was not given")
        return parameters[name]
    return value


_COMPARE = {
    ast.Eq: "=",
    ast.NotEq: "<>",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}


def _pandas_precedence(condition: str) -> str:
    """In a pandas query `&` and `|` bind more loosely than comparisons (in Python they bind
    more tightly): written as `and` / `or`, Python parses the condition as pandas does."""
    tokens = tokenize.generate_tokens(io.StringIO(condition).readline)
    words = {"&": "and", "|": "or", "~": "not"}
    return tokenize.untokenize(
        (tokenize.NAME, words[t.string]) if t.type == tokenize.OP and t.string in words
        else (t.type, t.string)
        for t in tokens
    )  # fmt: skip


def condition_sql(condition: str) -> str:
    """A pandas `query` condition (`unit=="count"`, `a > 1 & b != "x"`) as SQL with pandas'
    treatment of missing values: a comparison with a missing value is false, except `!=`."""
    try:
        tree = ast.parse(_pandas_precedence(condition.strip()), mode="eval").body
    except (SyntaxError, tokenize.TokenError) as exc:
        raise SuiteError(f"row_condition {condition!r} is not a valid condition: {exc}") from None

    def operand(node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return quote(node.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float):
            return literal(node.value)
        raise SuiteError(f"row_condition {condition!r}: only columns and constants are supported")

    def convert(node: ast.AST) -> str:
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            op = type(node.ops[0])
            if op not in _COMPARE:
                raise SuiteError(f"row_condition {condition!r}: operator not supported")
            left, right = operand(node.left), operand(node.comparators[0])
            if op is ast.NotEq:
                return f"({left} IS DISTINCT FROM {right})"
            return f"coalesce({left} {_COMPARE[op]} {right}, FALSE)"
        if isinstance(node, ast.BoolOp):
            joiner = " AND " if isinstance(node.op, ast.And) else " OR "
            return "(" + joiner.join(convert(v) for v in node.values) + ")"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
            joiner = " AND " if isinstance(node.op, ast.BitAnd) else " OR "
            return f"({convert(node.left)}{joiner}{convert(node.right)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.Invert):
            return f"(NOT {convert(node.operand)})"
        raise SuiteError(f"row_condition {condition!r}: this form is not supported")

    return convert(tree)


def rule(
    expectation: Expectation, parameters: dict[str, Any], tables: dict[str, str] | None = None
) -> Rule:
    """The SQL of one expectation. `tables`: parameter name -> a table of its values (column
    `value`), for value sets too long to write into a query."""
    k = expectation.kwargs
    domain = condition_sql(k["row_condition"]) if "row_condition" in k else "TRUE"
    kind = expectation.type
    if kind == "expect_column_values_to_be_null":
        return Rule(expectation, "map", domain, "TRUE", f"{quote(k['column'])} IS NOT NULL")
    if kind == "expect_column_values_to_not_be_null":
        return Rule(expectation, "map", domain, "TRUE", f"{quote(k['column'])} IS NULL")
    column = quote(k["column"]) if "column" in k else ""
    present = f"{column} IS NOT NULL"
    if kind == "expect_column_values_to_be_in_set":
        value_set = k["value_set"]
        if isinstance(value_set, dict) and value_set.get("$PARAMETER") in (tables or {}):
            # a parameter set (thousands of region keys) is a table: DuckDB hashes it, while
            # parsing a literal list that long alone costs seconds
            members = f"(SELECT value FROM {tables[value_set['$PARAMETER']]})"
        else:
            values = _param(value_set, parameters)
            members = "(" + (", ".join(literal(v) for v in values) or "NULL") + ")"
        return Rule(expectation, "map", domain, present, f"{column} NOT IN {members}")
    if kind == "expect_column_values_to_be_between":
        low, high = _param(k.get("min_value"), parameters), _param(k.get("max_value"), parameters)
        bounds = []
        if low is not None:
            bounds.append(f"{column} {'>' if k.get('strict_min') else '>='} {literal(low)}")
        if high is not None:
            bounds.append(f"{column} {'<' if k.get('strict_max') else '<='} {literal(high)}")
        within = " AND ".join(bounds) or "TRUE"
        return Rule(expectation, "map", domain, present, f"NOT ({within})")
    if kind == "expect_column_values_to_match_regex":
        pattern = literal(_param(k["regex"], parameters))
        return Rule(
            expectation,
            "map",
            domain,
            present,
            f"NOT regexp_matches(CAST({column} AS VARCHAR), {pattern})",
        )
    if kind == "expect_column_values_to_be_unique":
        return Rule(expectation, "unique", domain, present, "", (k["column"],))
    if kind == "expect_compound_columns_to_be_unique":
        columns = tuple(k["column_list"])
        some = " OR ".join(f"{quote(c)} IS NOT NULL" for c in columns)
        return Rule(expectation, "unique", domain, f"({some})", "", columns)
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = quote(k["column_A"]), quote(k["column_B"])
        ignore = k.get("ignore_row_if", "both_values_are_missing")
        if ignore == "either_value_is_missing":
            considered = f"({a} IS NOT NULL AND {b} IS NOT NULL)"
        elif ignore == "both_values_are_missing":
            considered = f"({a} IS NOT NULL OR {b} IS NOT NULL)"
        else:
            raise SuiteError(
                f"{expectation.suite}: {expectation.check}: ignore_row_if {ignore!r} is not "
                "supported (either_value_is_missing, both_values_are_missing)"
            )
        op = ">=" if k.get("or_equal") else ">"
        return Rule(expectation, "map", domain, considered, f"NOT coalesce({a} {op} {b}, FALSE)")
    if kind == "expect_column_values_to_be_in_type_list":
        return Rule(expectation, "aggregate", domain, "TRUE", "")
    raise SuiteError(f"{expectation.suite}: {expectation.check}: type {kind!r} not supported")


def validate_rules(suite: Suite) -> None:
    """Translate every expectation once (placeholder parameters), so that a suite the
    evaluator cannot read is refused when it is loaded, not when a delivery arrives."""
    placeholders: dict[str, Any] = {}
    for expectation in suite.expectations:
        for key, value in expectation.kwargs.items():
            if isinstance(value, dict) and "$PARAMETER" in value:
                placeholders[value["$PARAMETER"]] = [] if key == "value_set" else 0
    for expectation in suite.expectations:
        rule(expectation, placeholders)


_FIELD = re.compile(r"\{([^{}!:]+)")


def template_fields(template: str) -> set[str]:
    """The row columns a reason template reads (`{source_line}`, `{value!r}` …)."""
    return set(_FIELD.findall(template))
