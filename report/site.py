"""The indicator report: an HTML site the steering group and the partners open from a folder.

    index.html                 every goal with its indicators: the Ruhr's latest value, NRW,
                               baseline, target, on track or not
    indikatoren/<id>.html      one page per indicator: the Ruhr against NRW with the target,
                               the 53 municipalities ranked, the Kreise, subgroups, a dot map,
                               the data notes and the story behind the curve
    gemeinden/<AGS>.html       one printable profile per Ruhr municipality
    assets/                    style sheet, the Vega chart runtime (vendored), the chart glue

It works from file:// without any network: nothing is loaded from elsewhere. The site is
written into a temporary folder beside the target and swapped in whole, so a reader never
sees half a report.

A publication that changes nothing the report shows (a night without new deliveries) leaves
the site as it is: the fingerprint of everything the pages are made of — the publication's
figures, sources and checks, the commentary and the report's own code — is kept beside the
pages (`.fingerprint.json`), and the build is skipped when it is the same. The footer then
keeps naming the publication that first showed these figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from expectations.data_docs import VEGA_BUNDLE
from report import german
from report.commentary import COMMENTARY_YAML, Story, load_commentary
from report.data import ReportData, content_digest, read
from schemas.catalogue import load_catalogue

HERE = Path(__file__).resolve().parent
ASSETS = ("report.css", "report.js")
SCHOOLS_SOURCE = "nrw_schuldaten"
FINGERPRINT_FILE = ".fingerprint.json"


@dataclass
class Site:
    index: Path
    pages: list[Path] = field(default_factory=list)
    charts: int = 0
    unchanged: bool = False  # the pages of an earlier build, kept: nothing they show changed

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.index.parent.rglob("*") if p.is_file())


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = german.number
    env.filters["signed"] = german.signed
    env.filters["cell"] = german.cell
    env.filters["count"] = lambda v: german.number(v, 0)
    return env


def fingerprint(content: str, commentary: Path) -> str:
    """What the pages are made of, apart from the publication's run and time: the content of
    what the report reads (report.data.content_digest), the catalogue (its order is the pages'
    order), the commentary file and the report's code, templates and assets."""
    digest = hashlib.sha256(content.encode("utf-8"))
    digest.update(repr(load_catalogue()).encode("utf-8"))
    digest.update(commentary.read_bytes())
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".yaml":
            digest.update(str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes())
    digest.update(Path(VEGA_BUNDLE).read_bytes())
    return digest.hexdigest()


def _built_with(target: Path, wanted: str) -> Site | None:
    """The site already in `target`, if it was built with the fingerprint `wanted` and is
    whole."""
    try:
        built = json.loads((target / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(built, dict) or built.get("fingerprint") != wanted:
        return None
    pages = [target / page for page in built.get("pages", [])]
    if not pages or not all(page.is_file() for page in pages):
        return None
    return Site(target / "index.html", pages, int(built.get("charts", 0)), unchanged=True)


def write_site(
    data: ReportData, commentary: dict[str, Story], target: Path, built_from: str | None = None
) -> Site:
    """Render every page into a fresh folder and swap it in for `target`; `built_from` (the
    fingerprint) is kept beside the pages."""
    from report.pages import Pages  # altair: only when pages are drawn

    builder = Pages(data, commentary)
    env = _environment()
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "assets").mkdir(parents=True)
    for name in ASSETS:
        shutil.copyfile(HERE / "static" / name, staging / "assets" / name)
    shutil.copyfile(VEGA_BUNDLE, staging / "assets" / "vega.min.js")
    common = {
        "published_at": data.publication.published_at,
        "run_id": data.publication.run_id,
        "legend": german.LEGEND,
        "indicators": [(i, data.indicators.loc[i, "name"]) for i in builder.indicator_ids],
        "synthetic": bool(data.sources.synthetic.any()),
    }
    schools = data.sources[data.sources.source_id == SCHOOLS_SOURCE]
    common["schools_source"] = schools.iloc[0].to_dict() if not schools.empty else None
    pages: list[Path] = []

    def render(template: str, relative: str, root: str, **context: Any) -> None:
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        html = env.get_template(template).render(root=root, **common, **context)
        path.write_text(html, encoding="utf-8")
        pages.append(target / relative)

    render("index.html.j2", "index.html", "", **builder.start_page())
    for indicator_id in builder.indicator_ids:
        page = builder.indicator_page(indicator_id)
        render("indicator.html.j2", f"indikatoren/{indicator_id}.html", "../", **page)
    for region in data.municipalities().itertuples(index=False):
        page = builder.municipality_page(pd.Series(region._asdict()))
        render("municipality.html.j2", f"gemeinden/{region.region_code}.html", "../", **page)
    if built_from is not None:
        (staging / FINGERPRINT_FILE).write_text(
            json.dumps(
                {
                    "fingerprint": built_from,
                    "run_id": data.publication.run_id,
                    "pages": [str(p.relative_to(target)) for p in pages],
                    "charts": builder.charts,
                }
            ),
            encoding="utf-8",
        )
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return Site(target / "index.html", pages, builder.charts)


def build_report(
    published: Path, target: Path, commentary: Path = COMMENTARY_YAML, force: bool = False
) -> Site:
    """The report of the publication `published`, written to the folder `target` — unless
    the site there was built from the same figures, commentary and code (`force`: build it
    anyway). The commentary is checked first: a mistake in it stops the build before anything
    is written."""
    stories = load_commentary(commentary, load_catalogue())
    with duckdb.connect(str(published), read_only=True) as conn:
        wanted = fingerprint(content_digest(conn), commentary)
        if not force and (site := _built_with(target, wanted)) is not None:
            return site
        data = read(conn)
    return write_site(data, stories, target, built_from=wanted)
