"""The docs are part of the feature: generated sections match the code and YAML, and the
worked examples in them really run."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from pipelines.docs import GENERATED, section
from sources.registry import load_source
from tests.conftest import REPO
from warehouse.db import DataPaths, init_schema
from warehouse.ingest import ingest_source
from warehouse.staging import stage_source


def blocks(doc: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (REPO / "docs" / doc).read_text(), re.S)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_sections_are_up_to_date(name: str) -> None:
    _, render = GENERATED[name]
    assert section(name) == render(), f"run `./go docs` to refresh the {name} section"


def test_the_catalogue_doc_names_every_indicator_and_measure() -> None:
    from schemas.catalogue import load_catalogue

    text = (REPO / "docs/indicators.md").read_text()
    catalogue = load_catalogue()
    for item in [*catalogue.indicators, *catalogue.measures, *catalogue.goals]:
        assert f"`{item}`" in text, item


def test_sources_doc_worked_example_runs(tmp_path: Path) -> None:
    (delivery,) = blocks("sources.md", "csv")
    yaml_text = next(b for b in blocks("sources.md", "yaml") if "kreis_re_schulabgaenger" in b)
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "kreis_re_schulabgaenger.yaml").write_text(yaml_text, encoding="utf-8")
    source = load_source(registry / "kreis_re_schulabgaenger.yaml")
    assert source.location == ()  # deliveries come through the inbox

    paths = DataPaths(tmp_path / "data")
    inbox = paths.inbox_for(source.id)
    inbox.mkdir(parents=True)
    (inbox / "abgaenger_2024-25.csv").write_bytes(delivery.encode("cp1252"))
    paths.work_db.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.work_db)) as conn:
        init_schema(conn)
        assert ingest_source(conn, source, paths, "doc-run").new == ["abgaenger_2024-25.csv"]
        result = stage_source(conn, source, paths, "doc-run")
        assert [d.state for d in result.deliveries] == ["loaded"]
        values = conn.execute(
            "SELECT region_code, measure, sex, value FROM staging.records ORDER BY 1, 2, 3"
        ).fetchall()
    assert len(values) == 60  # 10 towns × 3 sexes × 2 measures, as the doc says
    recklinghausen = {(m, s): v for code, m, s, v in values if code == "05562032"}
    assert recklinghausen[("leavers_total", "total")] == 1127
    assert recklinghausen[("leavers_without_hsa", "male")] == 62
    towns = {"004", "008", "012", "014", "016", "020", "024", "028", "032", "036"}
    assert {code for code, *_ in values} == {f"05562{n}" for n in towns}
    assert (inbox / "processed").is_dir() and not (inbox / "abgaenger_2024-25.csv").exists()


@pytest.mark.parametrize("profile", ["demo", "production"])
def test_sources_doc_lists_every_registered_source(profile: str) -> None:
    from sources.registry import load_registry, registry_dir

    text = (REPO / "docs/sources.md").read_text()
    for source_id in load_registry(registry_dir(profile)):
        assert f"`{source_id}`" in text, source_id


def test_readme_gives_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)```", readme, re.S)
    assert commands[0].strip() == "./go"
    assert commands[1].strip() == "./go test"
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert ci[-1] == commands[1].strip()  # CI ends with exactly the README's test command


@pytest.mark.parametrize("excel", ["cp1252", "utf-8-sig"])
def test_screening_doc_example_prints_what_the_doc_shows(tmp_path: Path, excel: str) -> None:
    """The worked example of docs/screening.md, screened for real (the CLI, in a subprocess),
    saved as Excel saves it: "CSV (Trennzeichen-getrennt)" (cp1252) or "CSV UTF-8"."""
    import subprocess
    import sys

    (delivery,) = blocks("screening.md", "csv")
    (shown,) = blocks("screening.md", "text")
    path = tmp_path / "abgaenger_2024-25.csv"
    path.write_bytes(delivery.replace("\n", "\r\n").encode(excel))
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "screen", str(path), "--source",
         "schulabgaenger_abschlussart", "--language", "de", "--data-dir", str(tmp_path / "d")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # warnings only
    assert done.stdout.startswith("Prüfbericht für abgaenger_2024-25.csv (Quelle: ")
    assert done.stdout.splitlines()[0].endswith(": WARNUNG")
    for line in shown.strip().splitlines():
        assert line.strip() in done.stdout, line


def test_sources_doc_shows_what_a_mistake_in_the_worked_example_says(tmp_path: Path) -> None:
    from sources.registry import RegistryError

    (shown,) = blocks("sources.md", "text")
    yaml_text = next(b for b in blocks("sources.md", "yaml") if "kreis_re_schulabgaenger" in b)
    broken = yaml_text.replace('coverage: "05562"', "coverage: 05562").replace(
        "by: name,", "by: nam,"
    )
    path = tmp_path / "kreis_re_schulabgaenger.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(RegistryError) as exc:
        load_source(path)
    assert str(exc.value) == shown.strip()


def test_sources_doc_shows_what_two_sources_of_one_rank_say(tmp_path: Path) -> None:
    """The "Precedence" section: the worked example's source without its rank, beside the
    production registry."""
    import shutil

    from sources.registry import REGISTRIES, RegistryError, load_registry

    text = (REPO / "docs/sources.md").read_text()
    (shown,) = [line.strip() for line in text.splitlines() if "key 'rank':" in line]
    yaml_text = next(b for b in blocks("sources.md", "yaml") if "kreis_re_schulabgaenger" in b)
    shutil.copytree(REGISTRIES, tmp_path / "registry")
    path = tmp_path / "registry" / "production" / "kreis_re_schulabgaenger.yaml"
    path.write_text(re.sub(r"^rank: .*\n", "", yaml_text, flags=re.M), encoding="utf-8")
    with pytest.raises(RegistryError) as exc:
        load_registry(path.parent)
    assert str(exc.value) == shown


def test_indicators_doc_shows_what_a_decimal_comma_says(tmp_path: Path) -> None:
    from schemas.catalogue import SCHEMAS_DIR, CatalogueError, load_catalogue

    (shown,) = blocks("indicators.md", "text")
    for name in ("measures.yaml", "goals.yaml", "indicators.yaml"):
        text = (SCHEMAS_DIR / name).read_text(encoding="utf-8")
        if name == "indicators.yaml":  # the target of dropout_rate, whatever it is now
            text, n = re.subn(
                r"(^  - id: dropout_rate\n(?:(?!  - id: ).*\n)*?    target: \{value: )[^,]+,",
                r"\g<1>4,5,",
                text,
                count=1,
                flags=re.M,
            )
            assert n == 1, "dropout_rate has no `target: {value: …, year: …}` line"
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(tmp_path)
    assert str(exc.value) == shown.strip()


@pytest.mark.slow
def test_report_doc_commentary_workflow_runs(demo_runs, tmp_path: Path, capsys) -> None:
    """docs/report.md: the example commentary appears in the rebuilt report; the mistaken one
    stops the build with exactly the lines the doc shows."""
    from pipelines.cli import main

    good, bad = blocks("report.md", "yaml")
    commentary = tmp_path / "commentary.yaml"
    commentary.write_text(good, encoding="utf-8")
    out = tmp_path / "bericht"
    args = ["report", "--data-dir", str(demo_runs.data_dir), "--out", str(out)]
    assert main([*args, "--commentary", str(commentary)]) == 0
    assert f"Report: {out / 'index.html'} (66 pages)" in capsys.readouterr().out
    page = (out / "indikatoren" / "dropout_rate.html").read_text(encoding="utf-8")
    assert "Abschlussorientierte Förderkurse in den Jahrgängen 9 und 10" in page
    assert "Stand November 2026" in page
    assert "Noch kein Kommentar" in (out / "indikatoren" / "abitur_rate.html").read_text()

    commentary.write_text(bad, encoding="utf-8")
    before = (out / "index.html").stat().st_mtime_ns
    assert main([*args, "--commentary", str(commentary)]) == 2
    (expected,) = blocks("report.md", "text")
    assert capsys.readouterr().err == expected
    assert (out / "index.html").stat().st_mtime_ns == before  # the previous report stays


@pytest.mark.slow  # a loopback replay server
def test_sources_doc_genesis_example_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    """docs/sources.md, "A new table": the starting YAML of 12411-01-01-4 as the doc prints it,
    and its --check, against a loopback replay of the real recording."""
    from pipelines.cli import main
    from tests.genesis_replay import GenesisReplayServer

    printed = next(b for b in blocks("sources.md", "yaml") if "genesis_12411_01_01_4" in b)
    checked = next(b for b in blocks("sources.md", "console") if "matches the live table" in b)
    live = "https://www.regionalstatistik.de/genesisws/rest/2020"
    monkeypatch.setenv("REGIONALSTATISTIK_USERNAME", "bm-user")
    monkeypatch.setenv("REGIONALSTATISTIK_PASSWORD", "bm-secret")
    monkeypatch.setenv("BILDUNGSMONITOR_REGISTRY_DIR", str(tmp_path))
    with GenesisReplayServer("12411-01-01-4", username="bm-user", password="bm-secret") as server:
        assert main(["genesis-metadata", "12411-01-01-4", "--yaml", "--base-url",
                     server.base_url]) == 0  # fmt: skip
        out = capsys.readouterr().out
        assert out.replace(server.base_url, live) == printed
        (tmp_path / "genesis_12411_01_01_4.yaml").write_text(out, encoding="utf-8")
        code = main(["genesis-metadata", "--check", "genesis_12411_01_01_4",
                     "--registry", str(tmp_path)])  # fmt: skip
    assert (code, capsys.readouterr().out) == (0, checked)
