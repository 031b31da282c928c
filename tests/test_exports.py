"""`bildungsmonitor export`: the files, their formats, and the small-cell protection.

One public export of the demo publication (dropout and Abitur rates, their leaver measures, all
regions, three school years) is made once per module through the CLI and read back: by pandas
with German settings, by openpyxl, by pyarrow, and by LibreOffice headless.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from exports.config import load_protection
from exports.formats import neutralise, write
from exports.tables import Extract, Selection
from schemas.yamlmodel import YamlError
from tests.conftest import REPO, DemoRuns

RULES = load_protection()
YEARS = ("--years", "2020-2022")
INDICATORS = ("--indicator", "dropout_rate", "--indicator", "abitur_rate")


def export(demo_runs: DemoRuns, out: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "export", "--data-dir", str(demo_runs.data_dir),
         "--out", str(out), *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def read_german(path: Path) -> pd.DataFrame:
    """A German CSV as Excel reads it: ';', decimal comma; the symbols are empty cells."""
    return pd.read_csv(
        path,
        sep=";",
        decimal=",",
        encoding="utf-8-sig",
        dtype={"region_code": str},
        na_values=[".", "...", "x", "/"],
        keep_default_na=False,
    )


@pytest.fixture(scope="module")
def public(demo_runs: DemoRuns, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("public")
    leavers = [f"--measure={m}" for m in ("leavers_total", *RULES.measure_totals["leavers_total"])]
    shown = export(demo_runs, out, "--public", *INDICATORS, *leavers, *YEARS)
    assert "small-cell protection:" in shown
    return out


# --- the protection ---------------------------------------------------------------------------


@pytest.mark.slow
def test_no_count_below_the_threshold(public: Path) -> None:
    measures = read_german(public / "measures.csv")
    counts = measures[measures.unit == "count"].value.dropna()
    assert len(counts) > 10_000
    assert not ((counts > 0) & (counts < RULES.count_threshold)).any()
    indicators = read_german(public / "indicators.csv")
    for column in ("numerator", "denominator"):
        cells = indicators[column].dropna()
        assert not ((cells > 0) & (cells < RULES.count_threshold)).any(), column
    rates = indicators.dropna(subset=["value"])
    assert (rates.denominator.notna()).all()
    assert (rates.denominator >= RULES.denominator_threshold).all()
    suppressed = measures[measures.status == "suppressed"]
    assert len(suppressed) > 100 and suppressed.value.isna().all()


EXPOSED = """
    -- every "total = sum of parts" of the exported cells whose total is there too
    WITH cells AS (SELECT *, {column} AS v FROM t WHERE {where}),
    parent AS (
        SELECT region_code AS child, parent_code AS parent FROM regions
        WHERE parent_code IS NOT NULL AND level <> 'verband'
        UNION ALL
        SELECT region_code, 'RVR' FROM regions WHERE in_ruhr AND level IN ('gemeinde', 'kreis')
    ),
    members AS (
        -- female + male = total per nationality; german + foreign = total per sex
        SELECT concat_ws('|', 's', item, region_code, start_year, nationality) AS rel, v, status,
            sex = 'total' AS is_total
        FROM cells
        UNION ALL
        SELECT concat_ws('|', 'n', item, region_code, start_year, sex), v, status,
            nationality = 'total'
        FROM cells
        UNION ALL  -- the parts of a region
        SELECT concat_ws('|', 'g', item, p.parent, c.region_level, start_year, sex, nationality),
            v, status, false
        FROM cells c JOIN parent p ON p.child = c.region_code
        UNION ALL  -- a region as the total of its parts, one relation per level of parts
        SELECT concat_ws('|', 'g', item, c.region_code, l.level, start_year, sex, nationality),
            v, status, true
        FROM cells c JOIN (SELECT DISTINCT region_level AS level FROM cells) l ON true
        UNION ALL  -- leavers by qualification = all leavers
        SELECT concat_ws('|', 'm', region_code, start_year, sex, nationality), v, status,
            item = 'leavers_total'
        FROM cells WHERE item IN ({parts})
    ),
    relations AS (
        SELECT rel, count(*) FILTER (WHERE v IS NULL) AS unknown,
            count(*) FILTER (WHERE v IS NULL AND status = 'suppressed') AS secret
        FROM members GROUP BY rel
        HAVING count(*) FILTER (WHERE is_total) = 1 AND count(*) FILTER (WHERE NOT is_total) > 0
    )
    SELECT count(*), count(*) FILTER (WHERE unknown = 1 AND secret = 1) FROM relations
"""


@pytest.mark.slow
def test_no_suppressed_cell_can_be_recomputed_from_its_totals(
    public: Path, published: duckdb.DuckDBPyConnection
) -> None:
    """Every row and column total of the export (subgroups, regions, leavers by
    qualification) has either no hidden cell or at least two unknown ones. A relation whose
    parts are not all in the export counts as more unknowns only for the reader of this
    export; the check takes it as it is, so it is strict."""
    regions = published.execute(
        "SELECT region_code, parent_code, level, in_ruhr FROM marts.regions"
    ).df()
    measures = read_german(public / "measures.csv")
    indicators = read_german(public / "indicators.csv")
    parts = ", ".join(f"'{m}'" for m in ("leavers_total", *RULES.measure_totals["leavers_total"]))
    with duckdb.connect() as conn:
        conn.register("regions", regions)
        checked = 0
        for frame, item, column, where in (
            (measures, "measure", "value", "unit = 'count'"),
            (indicators, "indicator_id", "numerator", "true"),
            (indicators, "indicator_id", "denominator", "true"),
        ):
            conn.register("t", frame.rename(columns={item: "item"}))
            sql = EXPOSED.format(column=column, where=where, parts=parts)
            ((relations, exposed),) = conn.execute(sql).fetchall()
            assert exposed == 0, (item, column)
            checked += relations
            conn.unregister("t")
    assert checked > 20_000


@pytest.mark.slow
def test_the_protection_does_not_depend_on_what_is_selected(
    public: Path, demo_runs: DemoRuns, tmp_path: Path
) -> None:
    """A Ruhr-only export shows the same cells as the all-regions one: combined, two exports
    reveal nothing either alone does not."""
    export(demo_runs, tmp_path, "--public", *INDICATORS, *YEARS, "--region", "ruhr")
    small = read_german(tmp_path / "indicators.csv")
    large = read_german(public / "indicators.csv")
    key = ["indicator_id", "region_code", "start_year", "sex", "nationality"]
    both = small.merge(large, on=key, suffixes=("", "_all"))
    assert len(both) == len(small) > 1000
    assert both.value.isna().equals(both.value_all.isna())
    assert set(small.region_code) >= {"RVR", "05", "05513000", "05562"}


@pytest.mark.slow
def test_school_level_values_never_appear(public: Path, published: duckdb.DuckDBPyConnection):
    schools = {
        n for (n,) in published.execute("SELECT school_number FROM marts.schools").fetchall()
    }
    for name in ("measures.csv", "indicators.csv"):
        frame = read_german(public / name)
        assert not set(frame.region_code) & schools
        assert set(frame.region_level) <= {"gemeinde", "kreis", "regierungsbezirk", "land",
                                           "verband", "bund", "stadtbezirk"}  # fmt: skip


# --- the formats ------------------------------------------------------------------------------


@pytest.mark.slow
def test_german_csv_bytes_and_the_metadata(public: Path) -> None:
    import json

    raw = (public / "indicators.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfindicator_id;indicator_name;")
    assert b"\r\n" in raw
    package = json.loads((public / "datapackage.json").read_text(encoding="utf-8"))
    (indicators,) = [r for r in package["resources"] if r["name"] == "indicators"]
    assert indicators["dialect"]["delimiter"] == ";"
    fields = {f["name"]: f for f in indicators["schema"]["fields"]}
    assert fields["value"]["decimalChar"] == ","
    assert fields["value"]["type"] == "number" and fields["start_year"]["type"] == "integer"
    assert all(f["description"] and f["description_de"] for f in fields.values())
    assert package["protection"]["count_threshold"] == 3
    assert package["symbols"]["."] == "suppressed"


@pytest.mark.slow
def test_xlsx_and_parquet_hold_typed_values(
    demo_runs: DemoRuns, published: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    args = ("--indicator", "dropout_rate", "--region", "RVR", "--years", "2022")
    export(demo_runs, tmp_path / "x", "--format", "xlsx", *args)
    export(demo_runs, tmp_path / "p", "--format", "parquet", *args)
    (expected,) = published.execute(
        "SELECT value FROM marts.indicator_values WHERE indicator_id = 'dropout_rate' "
        "AND region_code = 'RVR' AND start_year = 2022 AND sex = 'total' "
        "AND nationality = 'total'"
    ).fetchone()
    book = load_workbook(tmp_path / "x" / "bildungsmonitor.xlsx")
    assert book.sheetnames == ["Indikatoren", "Messgrößen", "Hinweise"]
    sheet = book["Indikatoren"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(2)]
    (total,) = [r for r in rows if r["sex"] == "total" and r["nationality"] == "total"]
    assert total["value"] == pytest.approx(expected) and isinstance(total["start_year"], int)
    assert isinstance(total["in_ruhr"], bool)
    notes = [row[0].value for row in book["Hinweise"].iter_rows()]
    assert "Zeichenerklärung" in notes and "Spalte" in notes
    frame = pd.read_parquet(tmp_path / "p" / "indicators.parquet")
    row = frame[(frame.sex == "total") & (frame.nationality == "total")].iloc[0]
    assert row.value == pytest.approx(expected)
    assert str(frame.start_year.dtype) == "int32"


def test_formula_cells_are_neutralised(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    assert neutralise('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [neutralise(t) for t in ("+49 201", "-Essen", "@SUM(A1)", "\tx")] == [
        "'+49 201", "'-Essen", "'@SUM(A1)", "'\tx"
    ]  # fmt: skip
    assert [neutralise(t) for t in ("-", ".", "...", "-3", "-3,5", "Essen")] == [
        "-", ".", "...", "-3", "-3,5", "Essen"
    ]  # fmt: skip
    frame = pd.DataFrame(
        {
            "measure": ["leavers_total"] * 2,
            "measure_label": ["=1+1", "@SUMME(A1:A9)"],
            "value": [-3.0, float("nan")],
            "status": ["ok", "suppressed"],
        }
    )
    extract = Extract({"measures": frame}, "2026-11-28 04:55:57", public=False)
    selection = Selection(tables=("measures",))
    for fmt in ("csv", "xlsx"):
        # the metadata file describes only contract columns: write it for a contract frame
        write(extract, selection, tmp_path / fmt, fmt)
    text = (tmp_path / "csv" / "measures.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines() == [
        "measure;measure_label;value;status",
        "leavers_total;'=1+1;-3;ok",
        "leavers_total;'@SUMME(A1:A9);.;suppressed",
    ]
    sheet = load_workbook(tmp_path / "xlsx" / "bildungsmonitor.xlsx")["Messgrößen"]
    assert [(c.value, c.data_type) for c in sheet[2]] == [
        ("leavers_total", "s"), ("'=1+1", "s"), (-3, "n"), ("ok", "s")
    ]  # fmt: skip
    assert sheet["C3"].value == "."


@pytest.mark.slow
def test_the_csv_opens_in_libreoffice_with_the_right_numbers(
    demo_runs: DemoRuns, published: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """LibreOffice Calc headless, German locale, imports the CSV with the filter options a
    user's double click picks (';', UTF-8, German number format) and saves it as xlsx."""
    from openpyxl import load_workbook

    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice Calc is needed: apt-get install libreoffice-calc"
    export(demo_runs, tmp_path, "--indicator", "dropout_rate", "--region", "05513000",
           "--years", "2021-2022", "--tables", "indicators")  # fmt: skip
    # 59 = ';', 34 = '"', 76 = UTF-8, from line 1, column 4 (region_code) as text (2) — as in
    # the import dialog, else the key loses its leading zero —, language 1031 = German
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--infilter="
         "Text - txt - csv (StarCalc):59,34,76,1,4/2,1031", "--convert-to", "xlsx",
         "--outdir", str(tmp_path / "lo-out"), str(tmp_path / "indicators.csv")],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    sheet = load_workbook(tmp_path / "lo-out" / "indicators.xlsx").active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["indicator_id", "indicator_name", "goal_id"]  # the BOM is gone
    cells = {}
    for row in sheet.iter_rows(2):
        record = dict(zip(header, (c.value for c in row), strict=True))
        cells[(record["start_year"], record["sex"], record["nationality"])] = record
    rows = published.execute(
        "SELECT start_year, sex, nationality, value, numerator, denominator "
        "FROM marts.indicator_values WHERE indicator_id = 'dropout_rate' "
        "AND region_code = '05513000' AND start_year BETWEEN 2021 AND 2022"
    ).fetchall()
    assert len(rows) == len(cells) > 10
    for start_year, sex, nationality, value, numerator, denominator in rows:
        cell = cells[(start_year, sex, nationality)]
        assert cell["region_code"] == "05513000"  # text, the leading zero kept
        assert cell["value"] == pytest.approx(value, rel=1e-12)
        assert (cell["numerator"], cell["denominator"]) == (numerator, denominator)


# --- the rules file ---------------------------------------------------------------------------


def test_a_mistake_in_the_rules_is_loud(tmp_path: Path) -> None:
    path = tmp_path / "protection.yaml"
    path.write_text(
        "count_threshold: 0\ndenominator_threshold: {n: 10,5}\nsymbool: '.'\n"
        "not_persons: ['school_*']\nmeasure_totals:\n  leavers_total: [leavers_abitr]\n",
        encoding="utf-8",
    )
    with pytest.raises(YamlError) as exc:
        load_protection(path)
    lines = str(exc.value).splitlines()
    assert any(line.startswith("protection.yaml, line 1, key 'count_threshold'") for line in lines)
    assert any("line 3" in line and "symbool" in line for line in lines)
    assert any("line 2" in line and "denominator_threshold" in line for line in lines)
    path.write_text(
        "not_persons: ['school_*']\nmeasure_totals:\n  leavers_total: [leavers_abitr]\n",
        encoding="utf-8",
    )
    with pytest.raises(YamlError) as exc:
        load_protection(path)
    assert str(exc.value).splitlines() == [
        "protection.yaml, line 1, key 'not_persons': 'school_*' matches no measure of the "
        "catalogue",
        "protection.yaml, line 3, key 'measure_totals.leavers_total': unknown measure "
        "'leavers_abitr' — did you mean 'leavers_abitur'?",
    ]


# --- the docs ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_worked_example_of_the_exports_doc(demo_runs: DemoRuns, tmp_path: Path) -> None:
    import re
    import shlex

    doc = (REPO / "docs" / "exports.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"```sh\n(.*?)```", doc, re.S)
    (shown,) = re.findall(r"```text\n(.*?)```", doc, re.S)
    args = shlex.split(command)
    assert args[:2] == ["./go", "export"] and args[-2:] == ["--out", "export"]
    export(demo_runs, tmp_path, *args[2:-2])
    text = (tmp_path / "indicators.csv").read_text(encoding="utf-8-sig")
    columns = (0, 3, 7, 9, 10, 11, 12, 13, 15)  # as the doc shortens them
    lines = {";".join(row.split(";")[i] for i in columns) for row in text.splitlines()}
    for line in shown.strip().splitlines():
        assert line in lines, line


# --- bad input ----------------------------------------------------------------------------------


def run_export(data_dir: Path, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """The CLI in this process (no interpreter start): exit code and what it printed."""
    from pipelines.cli import main

    code = main(["export", "--data-dir", str(data_dir), *args])
    return code, capsys.readouterr().err


def test_without_a_publication_nothing_is_written(tmp_path: Path, capsys) -> None:
    code, said = run_export(tmp_path / "data", capsys, "--out", str(tmp_path / "out"))
    assert code == 2
    published = tmp_path / "data" / "published" / "bildungsmonitor.duckdb"
    assert said.strip() == f"no publication at {published}: run the pipeline first"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--indicator", "dropout"), "unknown indicator 'dropout'; the publication has: "),
        (
            ("--region", "5513000"),
            "unknown region '5513000': expected an official key (05513000, 05562, 05), RVR or ruhr",
        ),
        (
            ("--years", "22/23"),
            "--years '22/23': expected a start year or a range, e.g. 2018-2022 or 2018/19-2022/23",
        ),
        (("--years", "2022-2018"), "--years '2022-2018': the range ends before it starts"),
    ],
)
def test_a_bad_selection_is_named(demo_runs: DemoRuns, tmp_path: Path, capsys, args, said) -> None:
    code, printed = run_export(demo_runs.data_dir, capsys, "--out", str(tmp_path / "out"), *args)
    assert code == 2
    assert printed.startswith(said), printed
    assert not (tmp_path / "out").exists()
