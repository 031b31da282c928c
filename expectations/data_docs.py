"""Great Expectations Data Docs of a run, readable without internet access.

GX renders every validation of the run (each source's delivery, the indicator mart) as
HTML: data/reports/data_docs/<run id>/index.html, linked from the Dagster assets' metadata.
The pages load jQuery, Bootstrap, bootstrap-table, Vega and GX's logo from CDNs and an S3
bucket, which a pipeline server often cannot reach — the index then shows an empty table —
and which should not learn who opens a run's report. After each build every such reference
is rewritten to a copy (expectations/data_docs_static/, see its LICENSES.md) or to GX's own
static files; the dark-mode style sheet, which has no copy here, is left out. Opening the Data
Docs sends no request off the machine (tests/test_data_docs.py).

The static files — GX's images, fonts and styles (about 4 MB) and those copies — are the same
for every run: they are kept once, in data/reports/data_docs/_shared/gx-<version>/, and every
run's pages link there; a run's own folder holds only its pages (retention removes whole run
folders, pipelines/retention.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from importlib.metadata import version
from pathlib import Path

from expectations.gx_check import gx_context

STATIC = Path(__file__).resolve().parent / "data_docs_static"
# Vega, Vega-Lite and Vega-Embed in one file (vl-convert-python's bundle; LICENSES.md): the
# Data Docs' charts and the indicator report's (report/site.py) both draw with it
VEGA_BUNDLE = STATIC / "vega-bundle.min.js"
VENDOR = "vendor"
SHARED = "_shared"
# a link into a site's own static folder, as GX writes it ("static/", "./static/", "../../static/")
_STATIC_LINK = re.compile(r'(href|src)="(?:\.{1,2}/)*static/')
CDN = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap-4.3.1.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap-4.3.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        "popper-1.12.9.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": "bootstrap-table-filter-control-1.19.1.min.css",
    # one bundle holds all three (Vega-Lite 6: the specs GX renders with Altair 6)
    "https://cdn.jsdelivr.net/npm/vega@5": VEGA_BUNDLE.name,
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker-1.9.0.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "fontawesome-6.6.0/css/all.min.css",
}  # fmt: skip
# references dropped: in the bundle already, or not available offline (dark mode only)
DROPPED = (
    re.compile(r'<script src="https://cdn\.jsdelivr\.net/npm/vega-(lite@5|embed@6)"></script>\s*'),
    re.compile(r'<link[^>]*href="https://cdn\.jsdelivr\.net/npm/@forevolve/[^"]*"[^>]*>\s*'),
)
# Subresource-integrity attributes of the CDN tags: a copy on disk is not a CORS resource, and
# Chromium refuses to run a file:// script that asks for one
INTEGRITY = re.compile(r'\s+integrity="[^"]*"\s+crossorigin="anonymous"')
# GX's logos from its S3 bucket -> the copy among the site's own static files
LOGO = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/"
    r"(?:logo-long|full_logo_dark)\.png(?:\?d=[0-9TZ.]*)?"
)
# what a page loads by itself (not links a reader may follow)
EXTERNAL = re.compile(
    r"""(?:<(?:script|img|iframe|source)\b[^>]*\bsrc|<link\b[^>]*\bhref)\s*=\s*["']"""
    r"""(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


# per site: the suites and validation results already rendered into it. The pipeline builds the
# run's Data Docs after every asset that validated; rendering only what is new keeps that
# linear in the number of validations (a full rebuild each time grew with their square).
_rendered: dict[str, set[tuple]] = {}


def build(directory: Path) -> Path | None:
    """Render the Data Docs of every validation this process ran (one process runs one
    pipeline run) into `directory`; returns index.html, or None when nothing was validated."""
    context = gx_context()
    if context is None:
        return None
    site = "run_" + hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    if site not in context.get_site_names():
        context.add_data_docs_site(
            site_name=site,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(directory),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    done = _rendered.setdefault(site, set())
    keys = [
        *context.expectations_store.list_keys(),
        *context.validation_results_store.list_keys(),
    ]
    new = [k for k in keys if k.to_tuple() not in done]
    if new:  # (an empty list would make GX render everything)
        started = time.time()
        context.build_data_docs(site_names=[site], resource_identifiers=new)
        done.update(k.to_tuple() for k in new)
        localize(directory, since=started)
    index = directory / "index.html"
    return index if index.exists() else None


def shared_static(directory: Path) -> Path:
    """The static files every run's Data Docs share (per GX version: its pages and its static
    files change together)."""
    return directory.parent / SHARED / f"gx-{version('great_expectations')}"


def localize(directory: Path, since: float = 0.0) -> None:
    """Move the site's static files to the shared folder (or drop them, when it is there) and
    point every page written at or after `since` at it: CDN links at the vendored copies, GX's
    logos at its own images, without the integrity attributes a file:// copy cannot meet."""
    shared = shared_static(directory)
    own = directory / "static"
    if not (shared / VENDOR / VEGA_BUNDLE.name).exists():
        shared.parent.mkdir(parents=True, exist_ok=True)
        staging = shared.with_name(f".{shared.name}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        if own.is_dir():
            shutil.copytree(own, staging)
        shutil.copytree(STATIC, staging / VENDOR, dirs_exist_ok=True)
        for sheet in (staging / "styles").glob("*.css"):  # GX's logo inside a style sheet
            _rewrite(sheet, os.path.relpath(staging, sheet.parent))
        shutil.rmtree(shared, ignore_errors=True)  # (a folder from before the bundle)
        try:
            staging.rename(shared)  # complete or absent, for concurrent readers
        except OSError:  # another process was first
            shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(own, ignore_errors=True)  # GX copies it again on every build
    for page in directory.rglob("*.html"):
        if page.stat().st_mtime < since - 1:  # (coarse file-system clocks)
            continue
        _rewrite(page, os.path.relpath(shared, page.parent))


def _rewrite(page: Path, prefix: str) -> None:
    """One page or style sheet pointed at the shared static folder, seen from it as `prefix`
    (whatever depth GX wrote a link with: it links a validation page's icon one folder short)."""
    text = page.read_text(encoding="utf-8")
    new = _STATIC_LINK.sub(rf'\1="{prefix}/', text)
    for pattern in DROPPED:
        new = pattern.sub("", new)
    for url, name in CDN.items():
        new = new.replace(url, f"{prefix}/{VENDOR}/{name}")
    new = LOGO.sub(f"{prefix}/images/logo-long.png", new)
    new = INTEGRITY.sub("", new)
    if new != text:
        page.write_text(new, encoding="utf-8")


def external_references(directory: Path) -> list[str]:
    """Everything a page or style sheet of the site would still load from elsewhere."""
    found = []
    for page in [*directory.rglob("*.html"), *directory.rglob("*.css")]:
        text = page.read_text(encoding="utf-8", errors="replace")
        found += [f"{page.relative_to(directory)}: {text[m.start():m.end() + 80]}"
                  for m in EXTERNAL.finditer(text)]  # fmt: skip
    return found
