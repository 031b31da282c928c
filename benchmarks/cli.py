"""`python -m benchmarks` (`./go bench`): the pipeline at national scale, side by side with
DuckDB alone.

    ./go bench --size 10M                     generate (or reuse) the dataset, run the pipeline
                                              twice, the reference, the comparison, the query,
                                              the demo run and the screener; print a table and
                                              one JSON line with every figure
    ./go bench --size 1M --skip demo,screen   leave steps out: pipeline, rerun, reference,
                                              query, demo, screen
    ./go bench --size 20k --regions 02,04,RVR  only Gemeinden whose key starts with a prefix
                                              (RVR: the Ruhr's 53)

Sizes: 10M and 30M are the national shapes; 1M, 3M, 20k … the 10M shape on the first N
Gemeinden (docs/performance.md). Generated datasets are cached under the work directory
(default ./data/benchmarks/<size>/); every run gets a fresh <size>/run/ folder with the
pipeline's data directory, the reference database and the logs.

Exit code: 0 when every step that ran succeeded and, if both ran, the pipeline's indicator
values equal the reference's; 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

from benchmarks.compare import (
    PUBLISHED_TABLE,
    REFERENCE_TABLE,
    Comparison,
    QueryTiming,
    compare_indicator_values,
    time_query,
)
from benchmarks.dataset import (
    LEAVERS,
    REPO,
    SOURCE_IDS,
    TABLE_TYPES,
    Dataset,
    prepare,
    screen_delivery,
    shape_for,
)
from benchmarks.measure import Measured, clean_environment, run_measured
from schemas.catalogue import load_catalogue
from schemas.regions import load_regions
from schemas.tables import school_year_of_date
from sources.demo.generate import school_year

STEPS = ("pipeline", "rerun", "reference", "query", "demo", "screen")
# imported once before the measured steps, so that every step finds the bytecode cache warm
WARM_UP = (
    "import dagster, great_expectations, duckdb, pandas, pipelines.definitions, "
    "pipelines.cli, pipelines.summary, sources.screening, expectations.runner, "
    "benchmarks.reference"
)
DEFAULT_WORK_DIR = REPO / "data" / "benchmarks"
PUBLISHED = Path("published") / "bildungsmonitor.duckdb"
SUMMARY_PREFIXES = ("Run ", "Sources:", "Checks:", "Quarantined", "Published:")
JSON_KEYS = (
    "records",
    "pipeline_s",
    "reference_s",
    "ratio",
    "pipeline_peak_mb",
    "reference_peak_mb",
    "memory_ratio",
    "rerun_s",
    "rerun_ratio",
    "query_p50_ms",
    "query_p95_ms",
    "demo_s",
    "screen_s",
    "indicator_values_matched",
    "indicator_values_mismatched",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", default="1M", help="10M, 30M, or records like 1M, 3M, 20k")
    parser.add_argument(
        "--regions", default="", help="only Gemeinden with these key prefixes (RVR: the Ruhr)"
    )
    parser.add_argument(
        "--work-dir", default=str(DEFAULT_WORK_DIR), help="datasets and runs (./data/benchmarks)"
    )
    parser.add_argument("--skip", default="", help=f"steps to leave out: {','.join(STEPS)}")
    parser.add_argument(
        "--timeout", type=float, default=7200, help="seconds per step (default 7200)"
    )
    parser.add_argument("--query-runs", type=int, default=200, help="analyst queries (200)")
    args = parser.parse_args(argv)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = sorted(args.skip - set(STEPS))
    if unknown:
        parser.error(f"--skip: unknown step(s) {', '.join(unknown)}; steps: {', '.join(STEPS)}")
    args.regions = tuple(r.strip() for r in args.regions.split(",") if r.strip())
    return args


def bildungsmonitor() -> list[str]:
    """The project's CLI, as installed beside this interpreter."""
    script = Path(sys.executable).with_name("bildungsmonitor")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "pipelines.cli"]


def write_catalogue(directory: Path) -> dict[str, Path]:
    """schemas/indicators.yaml as the two CSV files reference.sql reads."""
    catalogue = load_catalogue()
    terms, gaps = directory / "indicator_terms.csv", directory / "indicator_gaps.csv"
    with terms.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["indicator_id", "role", "measure", "term_measures", "scale"])
        for indicator in catalogue.rate_indicators():
            for role, measures in (
                ("numerator", indicator.numerator),
                ("denominator", indicator.denominator),
            ):
                for measure in measures:
                    writer.writerow([indicator.id, role, measure, len(measures), indicator.scale])
    with gaps.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["indicator_id", "of_indicator", "compares", "minuend_value", "subtrahend_value"]
        )
        for indicator in catalogue.gap_indicators():
            compares = next(iter(indicator.minuend))
            writer.writerow(
                [
                    indicator.id,
                    indicator.of_indicator,
                    compares,
                    indicator.minuend[compares],
                    indicator.subtrahend[compares],
                ]
            )
    return {"indicator_terms": terms, "indicator_gaps": gaps}


def write_regions(run_dir: Path) -> Path:
    """Today's regions as the pipeline reads them (schemas/regions.csv with the changes of
    schemas/territory.yaml): the reference's region reference, in regions.csv's columns."""
    path = run_dir / "regions_today.csv"
    table = load_regions()
    for flag in ("in_ruhr", "is_current"):
        table[flag] = table[flag].map({True: "true", False: "false"})
    table.drop(columns=["valid_from", "valid_until"]).to_csv(path, index=False)
    return path


def reference_command(dataset: Dataset, run_dir: Path) -> tuple[list[str], Path, Path]:
    database, summary = run_dir / "reference.duckdb", run_dir / "reference.json"
    files = dataset.files
    values = {
        "leavers": files[LEAVERS],
        "kita": files["kita_betreuung"],
        "population": files["bevoelkerung_kinder"],
        "schools": files["regionalstatistik_21111_01_03_4"],
        "regions": write_regions(run_dir),
        **write_catalogue(run_dir),
        "latest_start_year": school_year_of_date(dt.date.today()),
    }
    command = [sys.executable, "-m", "benchmarks.reference", str(database), str(summary)]
    command += [f"{name}={value}" for name, value in values.items()]
    return command, database, summary


# ---------------------------------------------------------------------------------------------


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _times(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}×"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _step_line(label: str, records: int, m: Measured | None) -> str:
    if m is None:
        return f"{label:<24}{'skipped':>12}"
    rate = records / m.wall_s if m.wall_s else None
    status = "timeout" if m.timed_out else str(m.returncode)
    return (
        f"{label:<24}{records:>12,}{m.wall_s:>10.1f}{_n(rate):>12}{m.cpu_s:>9.1f}"
        f"{m.peak_rss_mb:>13,.0f}{status:>7}"
    )


def _report_failure(m: Measured) -> None:
    what = f"timed out after {m.wall_s:.0f} s" if m.timed_out else f"exit code {m.returncode}"
    print(f"  {m.label}: {what} — last lines of {m.log}:")
    for line in m.tail().splitlines():
        print(f"    {line}")


def _pipeline_summary(m: Measured) -> None:
    text = m.log.read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():
        if line.startswith(SUMMARY_PREFIXES):
            print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shape = shape_for(args.size, args.regions)
    work_dir = Path(args.work_dir).resolve()
    print(
        f"Benchmark {shape.key}: {shape.gemeinden:,} Gemeinden, {len(shape.years)} school years "
        f"({school_year(shape.years[0])}–{school_year(shape.years[-1])}), "
        f"{shape.subgroup_lines} leaver lines per Gemeinde-year, {len(TABLE_TYPES)} school "
        f"types; expected {shape.expected_records():,} records",
        flush=True,
    )
    dataset = prepare(work_dir, shape)
    origin = "cached, generated" if dataset.cached else "generated"
    print(f"Dataset {dataset.directory} ({origin} in {dataset.seconds:.1f} s)")
    for source_id in SOURCE_IDS:
        print(
            f"  {source_id:<34}{dataset.lines[source_id]:>12,} lines"
            f"{dataset.records[source_id]:>13,} records   {dataset.files[source_id].name}"
        )
    print(f"  {'total':<34}{'':>18}{dataset.total_records:>13,} records", flush=True)

    run_dir = dataset.directory / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    env = clean_environment()
    failures: list[Measured] = []

    def step(label: str, command: list[str], log: str) -> Measured:
        print(f"… {label}", flush=True)
        measured = run_measured(
            label, command, log=run_dir / log, cwd=REPO, env=env, timeout=args.timeout
        )
        if not measured.ok and not (label == "screen" and measured.returncode in (1, 2)):
            failures.append(measured)
            _report_failure(measured)
        return measured

    if args.skip != set(STEPS):
        warm = run_measured(
            "warm-up", [sys.executable, "-c", WARM_UP], log=run_dir / "warm-up.log", cwd=REPO,
            env=env, timeout=args.timeout,
        )  # fmt: skip
        print(f"… warm-up (imports, bytecode cache): {warm.wall_s:.1f} s", flush=True)

    pipeline = rerun = reference = demo = screen = None
    pipeline_data = run_dir / "pipeline"
    run = [*bildungsmonitor(), "run", "--registry", str(dataset.registry)]
    run += ["--data-dir", str(pipeline_data)]
    if "pipeline" not in args.skip:
        pipeline = step("pipeline", run, "pipeline.log")
        _pipeline_summary(pipeline)
        if "rerun" not in args.skip:
            rerun = step("pipeline re-run", run, "rerun.log")
            _pipeline_summary(rerun)

    summary: dict = {}
    if "reference" not in args.skip:
        command, reference_db, summary_path = reference_command(dataset, run_dir)
        reference = step("reference (DuckDB alone)", command, "reference.log")
        if reference.ok:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            failed = [c for c in summary["checks"] if c["failed"]]
            levels = summary["indicator_values_by_level"].items()
            print(
                f"    {summary['records_total']:,} records, {summary['quarantined']:,} "
                f"quarantined, {summary['indicator_values']:,} indicator values "
                f"({', '.join(f'{level} {count:,}' for level, count in levels)})"
            )
            for check in failed:
                print(
                    f"    check {check['source_id']}.{check['check']}: {check['failed']:,} failed"
                )

    published = pipeline_data / PUBLISHED
    comparison: Comparison | None = None
    if pipeline and pipeline.ok and reference and reference.ok:
        comparison = compare_indicator_values(published, reference_db)

    query: QueryTiming | None = None
    if "query" not in args.skip:
        if pipeline and pipeline.ok:
            query = time_query(published, PUBLISHED_TABLE, args.query_runs)
        elif reference and reference.ok:
            query = time_query(reference_db, REFERENCE_TABLE, args.query_runs)

    if "demo" not in args.skip:
        demo_run = [*bildungsmonitor(), "run", "--data-dir", str(run_dir / "demo")]
        demo = step("demo run", demo_run, "demo.log")
    if "screen" not in args.skip:
        delivery = screen_delivery(work_dir / "screen")
        screen = step(
            "screen",
            [
                *bildungsmonitor(),
                "screen",
                str(delivery),
                "--source",
                LEAVERS,
                "--data-dir",
                str(run_dir / "screen"),
            ],
            "screen.log",
        )

    figures = _figures(dataset, pipeline, rerun, reference, query, demo, screen, comparison)
    _print_table(dataset, pipeline, rerun, reference, query, demo, screen, comparison, figures)
    print(json.dumps(figures, separators=(", ", ": ")))
    same = comparison is None or comparison.identical
    return 0 if not failures and same else 1


def _figures(
    dataset: Dataset,
    pipeline: Measured | None,
    rerun: Measured | None,
    reference: Measured | None,
    query: QueryTiming | None,
    demo: Measured | None,
    screen: Measured | None,
    comparison: Comparison | None,
) -> dict:
    def wall(m: Measured | None) -> float | None:
        return round(m.wall_s, 3) if m and m.ok else None

    def peak(m: Measured | None) -> float | None:
        return round(m.peak_rss_mb, 1) if m and m.ok else None

    def ratio(a: float | None, b: float | None) -> float | None:
        value = _ratio(a, b)
        return round(value, 2) if value is not None else None

    figures = {
        "records": dataset.total_records,
        "pipeline_s": wall(pipeline),
        "reference_s": wall(reference),
        "ratio": ratio(wall(pipeline), wall(reference)),
        "pipeline_peak_mb": peak(pipeline),
        "reference_peak_mb": peak(reference),
        "memory_ratio": ratio(peak(pipeline), peak(reference)),
        "rerun_s": wall(rerun),
        "rerun_ratio": ratio(wall(rerun), wall(reference)),
        "query_p50_ms": round(query.p50_ms, 3) if query else None,
        "query_p95_ms": round(query.p95_ms, 3) if query else None,
        "demo_s": wall(demo),
        "screen_s": round(screen.wall_s, 3) if screen and screen.returncode is not None else None,
        "indicator_values_matched": comparison.matched if comparison else None,
        "indicator_values_mismatched": comparison.mismatched if comparison else None,
    }
    figures |= {
        "indicator_values_only_pipeline": comparison.only_pipeline if comparison else None,
        "indicator_values_only_reference": comparison.only_reference if comparison else None,
        "size": dataset.shape.key,
        "gemeinden": dataset.shape.gemeinden,
        "generate_s": round(dataset.seconds, 3),
        "pipeline_cpu_s": round(pipeline.cpu_s, 3) if pipeline and pipeline.ok else None,
        "reference_cpu_s": round(reference.cpu_s, 3) if reference and reference.ok else None,
        "rerun_peak_mb": peak(rerun),
        "query_db": ("published" if query.table == PUBLISHED_TABLE else "reference")
        if query
        else None,
        "screen_exit": screen.returncode if screen else None,
    }
    return figures


def _print_table(
    dataset: Dataset,
    pipeline: Measured | None,
    rerun: Measured | None,
    reference: Measured | None,
    query: QueryTiming | None,
    demo: Measured | None,
    screen: Measured | None,
    comparison: Comparison | None,
    figures: dict,
) -> None:
    records = dataset.total_records
    print()
    print(f"Bildungsmonitor benchmark {dataset.shape.key} — {records:,} records")
    print(
        f"{'':<24}{'records':>12}{'wall s':>10}{'records/s':>12}{'CPU s':>9}"
        f"{'peak RSS MB':>13}{'exit':>7}"
    )
    print(_step_line("pipeline", records, pipeline))
    print(_step_line("pipeline re-run", records, rerun))
    print(_step_line("reference (DuckDB)", records, reference))
    print(
        f"{'pipeline / reference':<24}{'':>12}{_times(figures['ratio']):>10}{'':>21}"
        f"{_times(figures['memory_ratio']):>13}"
    )
    print(
        f"{'re-run / reference':<24}{'':>12}{_times(figures['rerun_ratio']):>10}{'':>21}"
        f"{_times(_ratio(figures['rerun_peak_mb'], figures['reference_peak_mb'])):>13}"
    )
    if query:
        print(
            f"query ({query.runs}× {query.indicator} trend, {query.regions} regions, "
            f"{'published' if query.table == PUBLISHED_TABLE else 'reference'} file, "
            f"read-only): p50 {query.p50_ms:.2f} ms, p95 {query.p95_ms:.2f} ms, "
            f"{query.rows_per_query:.0f} rows each"
        )
    else:
        print("query: skipped")
    if demo:
        print(f"demo run from an empty data directory: {_n(figures['demo_s'], 1)} s")
    if screen:
        verdict = {0: "pass", 1: "warnings", 2: "fail"}.get(screen.returncode, "error")
        print(f"screen (3,000 lines): {screen.wall_s:.1f} s, exit {screen.returncode} ({verdict})")
    if comparison:
        print(
            f"indicator values: {comparison.matched:,} matched, {comparison.mismatched:,} "
            f"mismatched, {comparison.only_pipeline:,} only in the pipeline, "
            f"{comparison.only_reference:,} only in the reference"
        )
        for row in comparison.examples:
            print(f"    {row}")
    print()
