"""The backbone office's documented workflows, performed on a copy of the repository.

docs/sources.md ("Worked example: a new partner source") and docs/indicators.md ("Adding an
indicator", "Changing a target") tell the people who edit the YAML what to change and which
commands to run. Each test copies the repository's git-tracked files, does exactly what the
doc says — the YAML, the edit, the sample file and the commands are all read from the doc, so
the doc and this test cannot drift apart — and then runs the tests of the copy, which must
pass: following the docs leaves `./go test` green.

`./go X` is run as `python -m pipelines.cli X` and `./go test` as `python -m pytest` with this
interpreter (the copy has no .venv of its own; `python -m` imports the copy's code). The
closing `./go test` of a workflow runs ruff and the fast tests of FAST_TESTS, with -x;
WORKFLOW_TESTS=all runs the whole fast suite instead (three times: slower).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

# The closing `./go test` of a workflow: the files whose tests failed when the docs were
# followed before they and the tests followed the YAML (test_catalogue, test_docs; test_registry
# and test_definitions with a source in the demo profile), and the catalogue's SQL.
FAST_TESTS = [
    "tests/test_docs.py",
    "tests/test_definitions.py",
    "tests/test_registry.py",
    "tests/test_catalogue.py",
    "tests/test_indicator_sql.py",
]
SNAPSHOTS = REPO / "tests" / "snapshots"
# What the environment of the outer test run must not pass on to the copy's commands.
PRIVATE_ENV = ("UPDATE_SNAPSHOTS", "PYTEST_ADDOPTS", "DAGSTER_HOME", "WORKFLOW_TESTS")


# --- reading the docs ---------------------------------------------------------------------------


def doc_section(doc: str, heading: str) -> str:
    """The text under `heading` (a whole Markdown heading line, e.g. "### Changing a target")
    up to the next heading of the same or a higher level (outside code blocks)."""
    lines = (REPO / "docs" / doc).read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index(heading + "\n") + 1
    level = len(heading.split(" ", 1)[0])
    fenced = False
    for end in range(start, len(lines)):
        fenced ^= lines[end].startswith("```")
        if not fenced and re.match(rf"#{{1,{level}}} ", lines[end]):
            return "".join(lines[start:end])
    return "".join(lines[start:])


def code_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def mentioned(section: str, pattern: str) -> re.Match[str]:
    """A path or name the doc's prose gives (`pattern` may span a line break)."""
    match = re.search(pattern.replace(" ", r"\s+"), section)
    assert match, f"the doc no longer says {pattern!r}"
    return match


# --- the copy and the commands ----------------------------------------------------------------


class Copy:
    """A copy of the repository's tracked files in tmp_path/repo, with ../shared beside it (the
    GENESIS recordings some tests read) and a home directory of its own."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "repo"
        self.home = tmp_path / "home"
        self.home.mkdir()
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False
        )
        if listed.returncode != 0:
            pytest.skip("the repository is not a git checkout: no list of tracked files")
        for name in filter(None, listed.stdout.decode().split("\0")):
            if os.path.lexists(REPO / name):  # tracked, not deleted in the work tree
                target = self.root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, target, follow_symlinks=False)
        shared = REPO.parent / "shared"
        if shared.is_dir():
            (tmp_path / "shared").symlink_to(shared)
        self.runs = 0
        where = self.python("-c", "import pipelines, schemas, sources, tests, warehouse as w;"
                            "print(w.__file__)")  # fmt: skip
        assert Path(where.strip()).parent.parent == self.root  # the copy's code, not REPO's

    def path(self, relative: str) -> Path:
        return self.root / relative

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in PRIVATE_ENV and not k.startswith("BILDUNGSMONITOR_")
        }
        return {**env, "HOME": str(self.home), **(extra or {})}

    def python(self, *args: str, env: dict[str, str] | None = None, timeout: int = 1800) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{' '.join(args)} exited with {done.returncode}:\n{output}"
        return done.stdout

    def pytest(self, *args: str, env: dict[str, str] | None = None) -> str:
        self.runs += 1
        basetemp = self.tmp / f"pytest-{self.runs}"  # never the outer run's numbered dirs
        return self.python(
            "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}", *args,
            env=env,
        )  # fmt: skip

    def go(self, line: str) -> str:
        """One line of a doc's ```sh block: `[VAR=value …] ./go COMMAND [ARG …]`."""
        words = shlex.split(line)
        env = {}
        while words and re.fullmatch(r"[A-Z][A-Z0-9_]*=.*", words[0]):
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        assert words[:1] == ["./go"] and len(words) >= 2, f"not a ./go command: {line}"
        command, *args = words[1:]
        args = [str(self.home / a[2:]) if a.startswith("~/") else a for a in args]
        if command == "test" and args:
            return self.pytest(*args, env=env)
        if command == "test":  # the closing `./go test`: the linters, then the fast tests
            self.python("-m", "ruff", "check", ".", env=env)
            self.python("-m", "ruff", "format", "--check", ".", env=env)
            tests = [] if os.environ.get("WORKFLOW_TESTS") == "all" else FAST_TESTS
            return self.pytest("-x", "-m", "not slow", *tests, env=env)
        return self.python("-m", "pipelines.cli", command, *args, env=env)

    def run_commands(self, section: str) -> dict[str, str]:
        """Every command of the section's ```sh blocks, in order; their output by line."""
        lines = [
            line.strip()
            for block in code_blocks(section, "sh")
            for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        assert lines and lines[-1] == "./go test", "a workflow ends with ./go test"
        return {line: self.go(line) for line in lines}


def changed_snapshots(copy: Copy) -> set[str]:
    return {
        p.name
        for p in SNAPSHOTS.iterdir()
        if p.read_bytes() != copy.path(f"tests/snapshots/{p.name}").read_bytes()
    }


def test_adding_a_partner_source_as_documented(tmp_path: Path) -> None:
    section = doc_section("sources.md", "## Worked example: a new partner source")
    copy = Copy(tmp_path)

    # 1. the registry file, where the doc puts it
    (yaml_text,) = [b for b in code_blocks(section, "yaml") if b.startswith("id: ")]
    registry_file = mentioned(section, r"adds `(sources/registry/[a-z]+/[a-z0-9_]+\.yaml)`")[1]
    source_id = re.match(r"id: (\w+)", yaml_text)[1]
    assert Path(registry_file).name == f"{source_id}.yaml"
    copy.path(registry_file).write_text(yaml_text, encoding="utf-8")
    # the partner's sample file, saved where the doc says (a spreadsheet export: cp1252)
    (sample,) = code_blocks(section, "csv")
    saved_as = mentioned(section, r"saved as `~/([^`]+)`")[1]
    (copy.home / saved_as).parent.mkdir(parents=True)
    (copy.home / saved_as).write_bytes(sample.replace("\n", "\r\n").encode("cp1252"))

    # 2. the commands: screen the sample, refresh the docs, run the tests
    outputs = copy.run_commands(section)
    (screened,) = [out for line, out in outputs.items() if line.startswith("./go screen")]
    assert f"(source {source_id}): PASS" in screened

    profile = Path(registry_file).parent.name
    listed = re.search(
        rf"<!-- generated:{profile}-sources:start -->\n(.*?)<!-- generated:{profile}-sources:end",
        copy.path("docs/sources.md").read_text(encoding="utf-8"),
        re.S,
    )
    assert listed and f"| `{source_id}` |" in listed[1]  # `./go docs` listed it
    assert profile == "production"  # where a partner's inbox files are read
    assert changed_snapshots(copy) == set()  # the demo is as it was


def entry_span(text: str, indicator_id: str) -> tuple[int, int] | None:
    """Where the entry `  - id: <indicator_id>` of indicators.yaml starts and ends."""
    start = text.find(f"  - id: {indicator_id}\n")
    if start < 0:
        return None
    end = text.find("\n  - id: ", start + 1)
    return start, len(text) if end < 0 else end + 1


def test_adding_an_indicator_as_documented(tmp_path: Path) -> None:
    section = doc_section("indicators.md", "### Adding an indicator")
    copy = Copy(tmp_path)

    (entry,) = code_blocks(section, "yaml")
    indicator_id = re.search(r"- id: (\w+)", entry)[1]
    catalogue_file = copy.path(mentioned(section, r"at the end of `(schemas/[a-z]+\.yaml)`")[1])
    text = catalogue_file.read_text(encoding="utf-8")
    added_before = entry_span(text, indicator_id)  # the office has followed the doc already
    if added_before:  # then the doc's starting point is the catalogue without it
        text = text[: added_before[0]] + text[added_before[1] :]
    catalogue_file.write_text(text.rstrip("\n") + "\n\n" + entry, encoding="utf-8")

    copy.run_commands(section)

    assert f"#### `{indicator_id}`" in copy.path("docs/indicators.md").read_text(encoding="utf-8")
    # the fingerprint was recorded anew: the new indicator's figures, nothing of the data before
    before = json.loads((SNAPSHOTS / "demo_fingerprint.json").read_text(encoding="utf-8"))
    after = json.loads(copy.path("tests/snapshots/demo_fingerprint.json").read_text("utf-8"))
    changed = {table for table in before if before[table] != after[table]}
    assert changed <= {
        "marts.goals",
        "marts.indicators",
        "marts.indicator_values",
        "marts.indicator_trends",
        "quality.findings",  # the year-over-year check watches the measures indicators use
    }
    assert changed_snapshots(copy) <= {"demo_fingerprint.json"}
    if not added_before:
        assert {"marts.indicators", "marts.indicator_values", "marts.indicator_trends"} <= changed
        assert after["marts.indicators"]["rows"] == before["marts.indicators"]["rows"] + 1


def test_changing_a_target_as_documented(tmp_path: Path) -> None:
    section = doc_section("indicators.md", "### Changing a target")
    copy = Copy(tmp_path)

    where = mentioned(section, r"In `(schemas/[a-z]+\.yaml)`, in the entry `- id: (\w+)`")
    catalogue_file, indicator_id = copy.path(where[1]), where[2]
    old_line, new_line = (b.strip() for b in code_blocks(section, "yaml"))
    text = catalogue_file.read_text(encoding="utf-8")
    span = entry_span(text, indicator_id)
    assert span, f"{catalogue_file.name} has no entry {indicator_id}"
    entry = text[span[0] : span[1]]
    # the doc's starting point (the office may have changed this target since), then its edit
    entry, n = re.subn(r"^    target:.*\n(?:      .*\n)*", f"    {old_line}\n", entry, flags=re.M)
    assert n == 1, f"{indicator_id} has no `target:` line"
    catalogue_file.write_text(
        text[: span[0]] + entry.replace(old_line, new_line) + text[span[1] :], encoding="utf-8"
    )

    copy.run_commands(section)

    value, year = re.search(r"value: ([0-9.]+), year: \"([0-9/]+)\"", new_line).groups()
    doc = copy.path("docs/indicators.md").read_text(encoding="utf-8")
    shown = doc[doc.index(f"#### `{indicator_id}`") :]
    assert f"target: {float(value):g} by {year} (Ruhr)" in shown.split("\n\n#### ")[0]
    assert changed_snapshots(copy) == set()  # nothing to refresh: the figures are the same
