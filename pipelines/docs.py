"""Generated sections of the docs, so they cannot drift from the code and the YAML.

    bildungsmonitor docs     rewrites the sections between the markers
                             <!-- generated:NAME:start --> … <!-- generated:NAME:end -->

They are the parts of the docs that the backbone office's edits change: the indicator
catalogue (schemas/*.yaml) and the lists of sources (sources/registry/<profile>/*.yaml). The
documented workflows (docs/indicators.md, docs/sources.md) end with `./go docs`.

tests/test_docs.py fails when a committed doc differs from what this renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from schemas.catalogue import render_markdown as render_catalogue
from sources.registry import render_markdown as render_sources
from warehouse.contract import render_markdown as render_contract
from warehouse.db import REPO_ROOT

DOCS = REPO_ROOT / "docs"
GENERATED: dict[str, tuple[Path, Callable[[], str]]] = {
    "columns": (DOCS / "analysts.md", render_contract),
    "catalogue": (DOCS / "indicators.md", render_catalogue),
    "demo-sources": (DOCS / "sources.md", partial(render_sources, "demo")),
    "production-sources": (DOCS / "sources.md", partial(render_sources, "production")),
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated:{name}:start -->\n)(.*?)(<!-- generated:{name}:end -->)", re.DOTALL
    )


def section(name: str) -> str:
    """The generated section as committed in the doc."""
    path, _ = GENERATED[name]
    match = _pattern(name).search(path.read_text(encoding="utf-8"))
    if not match:
        raise ValueError(f"{path}: markers for the generated section {name!r} are missing")
    return match.group(2)


def regenerate() -> list[Path]:
    changed = []
    for name, (path, render) in GENERATED.items():
        text = path.read_text(encoding="utf-8")
        rendered = render()
        new = _pattern(name).sub(lambda m, r=rendered: m.group(1) + r + m.group(3), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
