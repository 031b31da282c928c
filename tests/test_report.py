"""The indicator report: the site the pipeline builds from every publication, opened in a real
headless Chromium from file:// with no network, and its numbers against the trend mart."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from report.commentary import COMMENTARY_YAML, CommentaryError, load_commentary
from report.german import cell, number, qualifier, signed
from report.progress import Verdict, assess
from schemas.catalogue import load_catalogue
from tests.browser import Browser
from tests.conftest import REPO, DemoRuns

ARTIFACTS = REPO / "tests" / "artifacts" / "report"
CHARTS_DRAWN = "document.documentElement.dataset.charts !== undefined"


def report_dir(demo_runs: DemoRuns) -> Path:
    return demo_runs.data_dir / "reports" / "bericht"


# --- German numbers, on track, commentary: the small parts -------------------------------------


def test_numbers_are_written_the_german_way() -> None:
    assert number(6.4049) == "6,4"
    assert number(1234.0, 0) == "1.234"
    assert number(1234567.891) == "1.234.567,9"
    assert number(-0.84) == "−0,8"
    assert number(-0.04) == "0,0"  # rounds to zero: no sign
    assert number(None) == "–"
    assert signed(1.25) == "+1,2" and signed(-2.35) == "−2,4" and signed(0.01) == "±0,0"
    assert cell(88.14, "provisional") == "88,1 p"
    assert cell(None, "suppressed") == "." and cell(None, "not_applicable") == "x"


def test_an_indicator_named_by_its_unit_is_not_named_twice() -> None:
    """Seen on the screenshots: 'Schüler/-innen je Lehrkraft (Schüler/-innen je Lehrkraft, …)'."""
    name = "Schüler/-innen je Lehrkraft"
    assert qualifier(name, name, "down") == "niedriger ist besser"
    assert qualifier("Betreuungsquote unter 3 Jahren", "%", "up") == "in %, höher ist besser"


@pytest.mark.parametrize(
    ("value", "expected", "path"),
    [
        (4.9, Verdict.REACHED, None),  # at or below the target of 5,0
        (6.0, Verdict.ON_TRACK, 6.25),  # half way in time: the path stands at 6,25
        (6.5, Verdict.OFF_TRACK, 6.25),
        (None, Verdict.UNKNOWN, None),
    ],
)
def test_on_track_means_on_the_straight_path_from_baseline_to_target(
    value: float | None, expected: Verdict, path: float | None
) -> None:
    # baseline 7,5 in 2015/16, target 5,0 in 2025/26 (lower is better), latest year 2020/21
    progress = assess(value, 2020, 7.5, 2015, 5.0, 2025, "down", number)
    assert progress.verdict is expected
    assert progress.path_value == path
    if expected is Verdict.OFF_TRACK:
        assert progress.reason == "Der aktuelle Wert liegt hinter dem Pfad zum Ziel (6,2)."


def test_without_a_baseline_value_there_is_no_path() -> None:
    progress = assess(30.0, 2020, None, 2015, 35.0, 2029, "up", number)
    assert progress.verdict is Verdict.UNKNOWN
    assert progress.reason.startswith("Für das Ausgangsjahr liegt kein Wert vor")


def test_the_bundled_commentary_is_valid() -> None:
    stories = load_commentary(COMMENTARY_YAML, load_catalogue())
    assert "dropout_rate" in stories and stories["dropout_rate"].story


def test_mistakes_in_the_commentary_are_named_with_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "commentary.yaml"
    path.write_text(
        "indicators:\n"
        "  dropout_rat:\n"
        "    as_of: November 2026\n"
        "    story: Der Anteil steigt.\n"
        "  abitur_rate:\n"
        "    story: Mehr Abitur.\n"
        "    partner: [Universitätsallianz Ruhr]\n",
        encoding="utf-8",
    )
    with pytest.raises(CommentaryError) as caught:
        load_commentary(path, load_catalogue())
    assert str(caught.value).splitlines() == [
        "commentary.yaml, line 2, key 'indicators.dropout_rat': 'dropout_rat' is not an "
        "indicator in schemas/indicators.yaml — did you mean 'dropout_rate'?",
        "commentary.yaml, line 5, key 'indicators.abitur_rate.as_of': missing (required)",
        "commentary.yaml, line 7, key 'indicators.abitur_rate.partner': unknown key; expected "
        "one of as_of, story, partners, actions — did you mean 'partners'?",
    ]


# --- the report the pipeline built --------------------------------------------------------------


@pytest.mark.slow
def test_the_pipeline_builds_the_report_and_links_it(demo_runs: DemoRuns) -> None:
    index = report_dir(demo_runs) / "index.html"
    assert f"Report: {index} (66 pages)" in demo_runs.first.output
    # the second run finds nothing new: the pages the first drew are kept
    assert f"Report: {index} (66 pages, unchanged)" in demo_runs.second.output
    instance = dg.DagsterInstance.from_config(str(demo_runs.data_dir / "dagster_home"))
    event = instance.get_latest_materialization_event(
        dg.AssetKey(["publish", "indikatorenbericht"])
    )
    assert event is not None and event.run_id == demo_runs.second.run_id
    metadata = event.asset_materialization.metadata
    assert metadata["report"].value == index.as_uri()
    assert metadata["pages"].value == 66  # start page, 12 indicators, 53 municipalities
    assert metadata["unchanged"].value is True


@pytest.mark.slow
def test_the_report_is_drawn_again_only_when_something_it_shows_changed(
    demo_runs: DemoRuns, tmp_path: Path
) -> None:
    from report.commentary import COMMENTARY_YAML
    from report.site import FINGERPRINT_FILE, build_report

    publication = tmp_path / "bildungsmonitor.duckdb"
    publication.write_bytes(demo_runs.published.read_bytes())
    commentary = tmp_path / "commentary.yaml"
    commentary.write_bytes(COMMENTARY_YAML.read_bytes())
    target = tmp_path / "bericht"
    first = build_report(publication, target, commentary)
    assert not first.unchanged and len(first.pages) == 66
    drawn = (target / "index.html").stat().st_mtime_ns

    # a publication of a later run with the same figures: the pages stay, the footer names the
    # publication that first showed them
    with duckdb.connect(str(publication)) as conn:
        first_run = conn.execute("SELECT run_id FROM meta.publication").fetchone()[0]
        conn.execute("UPDATE meta.publication SET run_id = 'later', published_at = now()")
    again = build_report(publication, target, commentary)
    assert again.unchanged and again.pages == first.pages and again.charts == first.charts
    assert (target / "index.html").stat().st_mtime_ns == drawn
    assert f"Lauf {first_run}." in (target / "index.html").read_text(encoding="utf-8")

    # the commentary, a figure, a lost page or --force: drawn again
    commentary.write_text(
        commentary.read_text(encoding="utf-8") + "\n# a remark of the office\n", encoding="utf-8"
    )
    assert not build_report(publication, target, commentary).unchanged
    assert build_report(publication, target, commentary).unchanged
    with duckdb.connect(str(publication)) as conn:
        conn.execute(
            "UPDATE marts.indicator_history SET value = value + 1 "
            "WHERE region_code = 'RVR' AND indicator_id = 'dropout_rate'"
        )
    assert not build_report(publication, target, commentary).unchanged
    (target / "gemeinden" / "05911000.html").unlink()
    assert not build_report(publication, target, commentary).unchanged
    assert (target / "gemeinden" / "05911000.html").is_file()
    assert not build_report(publication, target, commentary, force=True).unchanged
    assert "Lauf later." in (target / "index.html").read_text(encoding="utf-8")
    assert (target / FINGERPRINT_FILE).is_file()


@pytest.mark.slow
def test_the_report_opens_offline_and_every_page_draws_its_charts(
    demo_runs: DemoRuns, published: duckdb.DuckDBPyConnection
) -> None:
    site = report_dir(demo_runs)
    indicators = [
        r[0] for r in published.execute("SELECT indicator_id FROM marts.indicators").fetchall()
    ]
    ruhr = "SELECT region_code FROM marts.regions WHERE in_ruhr AND level = 'gemeinde'"
    municipalities = [r[0] for r in published.execute(ruhr).fetchall()]
    assert sorted(indicators) == sorted(load_catalogue().indicators)
    assert len(municipalities) == 53
    pages = [site / "index.html", *(site / "indikatoren" / f"{i}.html" for i in indicators),
             *(site / "gemeinden" / f"{m}.html" for m in municipalities)]  # fmt: skip
    start = (site / "index.html").read_text(encoding="utf-8")
    for page in pages[1:]:  # every page is linked from the start page
        assert f'href="{page.relative_to(site)}"' in start, page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {"index.html": "startseite", "dropout_rate.html": "indikator",
             "05562032.html": "gemeinde"}  # fmt: skip
    with Browser() as browser:
        for page in pages:
            visit = browser.visit(page.as_uri(), CHARTS_DRAWN)
            assert visit.external() == [], page  # the network was never asked
            assert visit.failed == [] and visit.errors == [], (page, visit.failed, visit.errors)
            expected = browser.evaluate("document.querySelectorAll('[data-chart]').length")
            assert browser.evaluate("document.documentElement.dataset.charts") == str(expected)
            # every chart is an SVG with marks in it
            drawn = browser.evaluate(
                "Array.from(document.querySelectorAll('[data-chart]')).map(c => "
                "c.querySelectorAll('svg path, svg line, svg rect, svg circle').length)"
            )
            assert all(marks > 10 for marks in drawn), (page, drawn)
            if page.name in shots:
                browser.screenshot(ARTIFACTS / f"{shots[page.name]}.png")
    print(f"screenshots: {ARTIFACTS}")
    for name in shots.values():
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 50_000


def _cells(html: str, attribute: str, key: str) -> dict[str, str]:
    """school year -> text of the cell with attribute=key in that year's row."""
    found = {}
    for row in re.findall(r'<tr data-school-year="([^"]+)">(.*?)</tr>', html, re.S):
        hit = re.search(rf'{attribute}="{re.escape(key)}">([^<]*)<', row[1])
        if hit:
            found[row[0]] = hit.group(1).strip()
    return found


def german(value: float, decimals: int = 1) -> str:
    """The test's own German formatting: 1234.56 -> '1.234,6', -0.8 -> '−0,8'."""
    text = f"{abs(value):,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return ("−" if round(value, decimals) < 0 else "") + text


@pytest.mark.slow
def test_the_reports_numbers_are_those_of_the_trend_mart(
    demo_runs: DemoRuns, published: duckdb.DuckDBPyConnection
) -> None:
    site = report_dir(demo_runs)

    def trends(indicator: str, region: str) -> dict[str, tuple[float | None, str]]:
        rows = published.execute(
            "SELECT school_year, value, status FROM marts.indicator_trends WHERE indicator_id = ? "
            "AND region_code = ? AND sex = 'total' AND nationality = 'total'",
            [indicator, region],
        ).fetchall()
        return {year: (value, status) for year, value, status in rows}

    def shown(value: float | None, status: str) -> str:
        if value is None:
            return {"suppressed": ".", "not_applicable": "x", "not_available": "…"}[status]
        return german(value) + {"provisional": " p", "estimated": " e"}.get(status, "")

    checked = 0
    for indicator in ("dropout_rate", "betreuungsquote_u3", "pupils_per_teacher",
                      "dropout_gap_foreign_german"):  # fmt: skip
        html = (site / "indikatoren" / f"{indicator}.html").read_text(encoding="utf-8")
        for region in ("RVR", "05"):
            cells = _cells(html, "data-region", region)
            expected = trends(indicator, region)
            assert cells and set(cells) == set(expected), (indicator, region)
            for year, text in cells.items():
                assert text == shown(*expected[year]), (indicator, region, year)
                checked += 1
    # provisional figures keep their mark; counts have thousands separators
    u3 = _cells((site / "indikatoren/betreuungsquote_u3.html").read_text(), "data-region", "RVR")
    assert u3["2023/24"].endswith(" p")
    denominator = published.execute(
        "SELECT denominator FROM marts.indicator_values WHERE indicator_id = 'dropout_rate' "
        "AND region_code = 'RVR' AND school_year = '2023/24' AND sex = 'total' "
        "AND nationality = 'total'"
    ).fetchone()[0]
    assert f">{german(denominator, 0)}<" in (site / "indikatoren/dropout_rate.html").read_text()
    assert "." in german(denominator, 0)  # e.g. 49.273
    # every municipality's latest value on the indicator page and on its own profile
    latest = published.execute(
        "SELECT region_code, value, status FROM marts.indicator_trends "
        "WHERE indicator_id = 'dropout_rate' AND region_level = 'gemeinde' AND in_ruhr "
        "AND sex = 'total' AND nationality = 'total' AND school_year = '2023/24'"
    ).fetchall()
    page = (site / "indikatoren/dropout_rate.html").read_text(encoding="utf-8")
    for region, value, status in latest:
        assert f'data-region="{region}">{shown(value, status)}<' in page, region
        checked += 1
    profile = (site / "gemeinden/05562032.html").read_text(encoding="utf-8")
    value, status = trends("dropout_rate", "05562032")["2023/24"]
    assert _cells(profile, "data-indicator", "dropout_rate") == {"2023/24": shown(value, status)}
    assert checked > 100
    # the heading counts only municipalities with a value in that year
    for indicator in ("gymnasium_share", "dropout_rate", "betreuungsquote_u3"):
        n, year = published.execute(
            "SELECT count(value), max(school_year) FROM marts.indicator_values v "
            "WHERE indicator_id = ? AND region_level = 'gemeinde' AND in_ruhr AND sex = 'total' "
            "AND nationality = 'total' AND start_year = (SELECT max(start_year) FROM "
            "marts.indicator_values WHERE indicator_id = v.indicator_id AND region_code = 'RVR')",
            [indicator],
        ).fetchone()
        html = (site / "indikatoren" / f"{indicator}.html").read_text(encoding="utf-8")
        if n == 53:
            assert f"Die 53 Gemeinden im Schuljahr {year}</h2>" in html, indicator
        else:
            assert f"Die Gemeinden im Schuljahr {year}</h2>" in html, indicator
            missing = "eine Gemeinde" if n == 52 else f"{53 - n} Gemeinden"
            assert (
                f"Für {n} der 53 Gemeinden liegt ein Wert vor; für {missing} fehlt er in diesem "
                "Schuljahr." in html
            ), indicator
            assert "Die 53 Gemeinden" not in html, indicator


@pytest.mark.slow
def test_a_publication_with_gaps_still_gives_every_page(
    demo_runs: DemoRuns, tmp_path: Path
) -> None:
    """A production publication may lack whole indicators, NRW, subgroups, schools: the
    report says so on the page instead of failing."""
    from report.site import build_report

    sparse = tmp_path / "sparse.duckdb"
    sparse.write_bytes(demo_runs.published.read_bytes())
    with duckdb.connect(str(sparse)) as conn:
        # (marts.indicator_values and marts.indicator_trends are views of the history)
        conn.execute(
            "DELETE FROM marts.indicator_history WHERE region_code = '05' OR sex <> 'total' "
            "OR indicator_id NOT IN ('dropout_rate', 'gymnasium_share')"
        )
        conn.execute("DELETE FROM marts.indicator_history WHERE indicator_id = 'gymnasium_share' "
                     "AND region_level = 'gemeinde'")  # fmt: skip
        conn.execute("DELETE FROM marts.schools WHERE school_number <> (SELECT min(school_number) "
                     "FROM marts.schools)")  # fmt: skip
    site = build_report(sparse, tmp_path / "bericht")
    assert len(site.pages) == 66
    empty = (tmp_path / "bericht" / "indikatoren" / "abitur_rate.html").read_text()
    assert (
        "Für diesen Indikator liegen keine Werte nach Geschlecht oder Staatsangehörigkeit vor"
        in empty
    )
    assert "keine Bewertung möglich" in empty
    gymnasium = (tmp_path / "bericht" / "indikatoren" / "gymnasium_share.html").read_text()
    assert "Die 53 Gemeinden" not in gymnasium and "Karte" not in gymnasium
