"""The layering of the code is a contract (pyproject.toml, [tool.importlinter]): pipelines wire
into Dagster, alerts tell people what a run found, the portal serves the partners, warehouse
owns the persisted tables, expectations check, sources read, schemas name things — each floor
imports only the floors below it, and only pipelines know Dagster.
benchmarks/ sits on top: it measures the pipeline from outside and nothing imports it.
`./go test` runs `lint-imports` before the tests; this test keeps the contract in force when
pytest runs alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_layers_are_declared_in_order() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")
    assert layers["layers"] == [
        "benchmarks",
        "pipelines",
        "report | alerts | exports | portal",
        "warehouse",
        "expectations",
        "sources",
        "schemas",
    ]
    forbidden = next(c for c in contracts if c["type"] == "forbidden")
    assert forbidden["forbidden_modules"] == ["dagster"]


def test_the_code_keeps_its_layers() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is a dev dependency (pyproject.toml)"
    result = subprocess.run([command], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
