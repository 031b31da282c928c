"""Great Expectations Data Docs of a run, readable without internet access.

GX renders every validation of the run (each source's delivery, the indicator mart) as
HTML: data/reports/data_docs/<run id>/index.html, linked from the Dagster assets' metadata.
The pages load jQuery, Bootstrap, bootstrap-table, Vega and GX's logo from CDNs and an S3
bucket, which a pipeline server often cannot reach — the index then shows an empty table —
and which should not learn who opens a run's report. After each build every such reference
is rewritten to a copy in the site's static/vendor/ folder (expectations/data_docs_static/,
see its LICENSES.md) or to GX's own static files; the dark-mode style sheet, which has no copy
here, is left out. Opening the Data Docs sends no request off the machine (tests/test_data_docs.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

from expectations.gx_check import gx_context

STATIC = Path(__file__).resolve().parent / "data_docs_static"
# Vega, Vega-Lite and Vega-Embed in one file (vl-convert-python's bundle; LICENSES.md): the
# Data Docs' charts and the indicator report's (report/site.py) both draw with it
VEGA_BUNDLE = STATIC / "vega-bundle.min.js"
VENDOR = "static/vendor"
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
FAVICON = re.compile(r'href="(?:\./|(?:\.\./)+)static/images/favicon\.ico"')
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


def localize(directory: Path, since: float = 0.0) -> None:
    """Point the CDN links of every page and style sheet (written at or after `since`) at the
    vendored copies."""
    vendor = directory / VENDOR
    if not (vendor / VEGA_BUNDLE.name).exists():  # (also a site begun before it was vendored)
        shutil.copytree(STATIC, vendor, dirs_exist_ok=True)
    logo = directory / "static" / "images" / "logo-long.png"
    favicon = directory / "static" / "images" / "favicon.ico"
    for page in [*directory.rglob("*.html"), *(directory / "static" / "styles").glob("*.css")]:
        if page.stat().st_mtime < since - 1:  # (coarse file-system clocks)
            continue
        text = page.read_text(encoding="utf-8")
        prefix = os.path.relpath(vendor, page.parent)
        new = text
        for pattern in DROPPED:
            new = pattern.sub("", new)
        for url, name in CDN.items():
            new = new.replace(url, f"{prefix}/{name}")
        new = LOGO.sub(os.path.relpath(logo, page.parent), new)
        new = INTEGRITY.sub("", new)
        # GX links the icon of a validation page one folder short of the site's root
        new = FAVICON.sub(f'href="{os.path.relpath(favicon, page.parent)}"', new)
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
