"""Ten runs started at the same moment — seven `bildungsmonitor run`, three `dagster job
execute` (a run started past the CLI, as the daemon's run worker starts one): one works, the
others are refused with the message naming it; never two in staging at once; the final
publication is complete."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import REPO, DemoRuns, copy_data_dir
from tests.nights import cli_env, flipped_copy, instance_of
from warehouse.publish import PUBLISHED_TABLES

pytestmark = pytest.mark.slow

LEAVERS = (
    REPO
    / "sources"
    / "demo"
    / "deliveries"
    / "schulabgaenger"
    / "SYNTHETISCH_schulabgaenger_abschlussart_nrw_2012-2023.csv"
)
REFUSED = re.compile(
    r"^Another run of the pipeline is in progress \(run ([0-9a-f-]{36})( via cli)?, process "
    r"\d+, since [0-9T:-]+ UTC\); one run at a time\. Nothing was done; start again when it "
    r"has finished\.$",
    re.MULTILINE,
)


def staging_spans(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float]]:
    """(first start, last end) of the run's staging steps, from its event log."""
    events = instance.all_logs(
        run_id,
        of_type={
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        },
    )
    times = [e.timestamp for e in events if (e.step_key or "").startswith("staging__")]
    return [(min(times), max(times))] if times else []


def test_ten_runs_at_once_one_works_the_others_are_refused(
    demo_runs: DemoRuns, tmp_path: Path
) -> None:
    data = copy_data_dir(demo_runs, tmp_path / "data")
    flipped_copy(LEAVERS, data / "inbox" / "schulabgaenger_abschlussart" / "abgaenger_neu.csv")
    cli = [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data)]
    dagster = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions"]
    dagster += ["-j", "nightly"]
    env = cli_env()
    direct_env = {
        **env,
        "DAGSTER_HOME": str(data / "dagster_home"),
        "BILDUNGSMONITOR_DATA_DIR": str(data),
    }
    commands = [(cli, env)] * 7 + [(dagster, direct_env)] * 3
    processes = [
        subprocess.Popen(
            command,
            cwd=REPO,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for command, environment in commands
    ]
    outputs = [(p.communicate(timeout=900)[0], p.returncode) for p in processes]

    cli_results = outputs[:7]
    published = [o for o, code in cli_results if code == 0]
    refused = [o for o, code in cli_results if code == 5]
    assert len(published) + len(refused) == 7, outputs
    with instance_of(data) as instance:
        runs = [
            r.dagster_run
            for r in instance.get_run_records(dg.RunsFilter(job_name="nightly"))
            if r.dagster_run.run_id not in (demo_runs.first.run_id, demo_runs.second.run_id)
        ]
        succeeded = [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]
        assert len(succeeded) == 1, [(r.run_id, r.status) for r in runs]
        winner = succeeded[0].run_id
        # every other start was refused, naming the run that worked
        for output in refused:
            assert [m.group(1) for m in REFUSED.finditer(output)] == [winner], output
        for run in runs:
            if run.run_id == winner:
                continue
            assert run.status == dg.DagsterRunStatus.FAILURE
            errors = [
                e.dagster_event.event_specific_data.error.to_string()
                for e in instance.all_logs(run.run_id)
                if e.dagster_event
                and e.dagster_event.is_failure
                and getattr(e.dagster_event.event_specific_data, "error", None)
            ]
            assert any(
                f"Another run of the pipeline is in progress (run {winner}" in text
                for text in errors
            ), errors
        # never two in staging at once: only the winner staged anything
        spans = {r.run_id: staging_spans(instance, r.run_id) for r in runs}
        assert [run_id for run_id, s in spans.items() if s] == [winner]
    # 7 CLI starts: the refused ones made no Dagster run; the winner's, if a CLI's, is the one
    assert len(runs) == 3 + len(published)
    # the final publication is complete: the winner's, with every table of the contract
    with duckdb.connect(str(data / "published" / "bildungsmonitor.duckdb"), read_only=True) as c:
        assert c.execute("SELECT run_id FROM meta.publication").fetchone()[0] == winner
        for table in PUBLISHED_TABLES:
            c.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert c.execute("SELECT count(*) FROM marts.indicator_values").fetchone()[0] > 0
        assert (
            c.execute(
                "SELECT state FROM meta.deliveries WHERE file_name = 'abgaenger_neu.csv'"
            ).fetchone()[0]
            == "loaded"
        )
