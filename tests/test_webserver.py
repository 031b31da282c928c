"""The Dagster UI's backend, started for real on loopback: the asset graph runs from every
source to the publication, and the checks exist (asserted through GraphQL)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from sources.registry import load_registry
from tests.conftest import REPO, DemoRuns, copy_data_dir

pytestmark = pytest.mark.slow

QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    description
    dependedByKeys { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking } }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory, demo_runs: DemoRuns) -> Iterator[int]:
    """The UI backend on the instance the CLI runs of the demo went into."""
    data = copy_data_dir(demo_runs, tmp_path_factory.mktemp("ui") / "data")
    home = data / "dagster_home"
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "BILDUNGSMONITOR_DATA_DIR": str(data)}
    log = (data / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-m",
            "pipelines.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("webserver did not start:\n" + (data / "webserver.log").read_text())
                time.sleep(1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_asset_graph_runs_from_every_source_to_the_publication(webserver: int) -> None:
    nodes = graphql(webserver, QUERY)["assetNodes"]
    children = {
        "/".join(n["assetKey"]["path"]): {"/".join(k["path"]) for k in n["dependedByKeys"]}
        for n in nodes
    }
    assert "publish/bildungsmonitor" in children
    for source_id in load_registry():
        reached, frontier = set(), [f"ingest/{source_id}"]
        while frontier:
            key = frontier.pop()
            if key not in reached:
                reached.add(key)
                frontier += children[key]
        assert f"staging/{source_id}" in reached
        assert "publish/bildungsmonitor" in reached, source_id
    groups = {n["groupName"] for n in nodes}
    assert groups == {"ingest", "staging", "core", "indicators", "marts", "publish"}
    assert all(n["description"] for n in nodes)


def test_checks_exist_and_staging_checks_do_not_block_other_sources(webserver: int) -> None:
    nodes = graphql(webserver, QUERY)["assetNodes"]
    checks = {}
    for node in nodes:
        result = node["assetChecksOrError"]
        assert result["__typename"] == "AssetChecks"
        checks["/".join(node["assetKey"]["path"])] = {
            c["name"]: c["blocking"] for c in result["checks"]
        }
    for source_id in load_registry():
        staged = checks[f"staging/{source_id}"]
        assert staged["structure"] is False  # a rejected delivery holds back only its source
        assert len(staged) >= 4, source_id
    assert (
        checks["staging/schulabgaenger_abschlussart"]["canonical_records_known_region_keys"]
        is False
    )
    assert (
        "school_leavers_numerator_le_denominator_dropout"
        in checks["staging/schulabgaenger_abschlussart"]
    )
    assert checks["marts/indicator_values"]["indicator_values_rates_within_0_100"] is True
    from expectations.checks import check_names
    from expectations.suites import suite_specs

    expected = sum(len(check_names(s)) for s in load_registry().values())
    expected += len(suite_specs("indicator_values"))
    assert sum(len(c) for c in checks.values()) == expected


def test_job_schedule_and_sensor_are_loaded(webserver: int) -> None:
    data = graphql(
        webserver,
        """
    { repositoriesOrError { ... on RepositoryConnection { nodes {
        jobs { name }
        schedules { name cronSchedule executionTimezone }
        sensors { name }
    } } } }""",
    )
    (repo,) = data["repositoriesOrError"]["nodes"]
    assert "nightly" in {j["name"] for j in repo["jobs"]}
    assert repo["schedules"] == [
        {
            "name": "nightly_schedule",
            "cronSchedule": "0 2 * * *",
            "executionTimezone": "Europe/Berlin",
        }
    ]
    assert sorted(s["name"] for s in repo["sensors"]) == ["alert_sensor", "inbox_sensor"]


def test_cli_runs_show_in_the_ui(webserver: int, demo_runs: DemoRuns) -> None:
    data = graphql(
        webserver,
        """
    { runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }""",
    )
    runs = {r["runId"]: r for r in data["runsOrError"]["results"]}
    for cli_run in (demo_runs.first, demo_runs.second):
        run = runs[cli_run.run_id]
        assert (run["jobName"], run["status"]) == ("nightly", "SUCCESS")
        assert {"key": "trigger", "value": "cli"} in run["tags"]
