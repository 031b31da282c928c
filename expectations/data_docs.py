"""Great Expectations Data Docs of a run, readable without internet access.

GX renders every validation of the run (each source's delivery, the indicator mart) as
HTML: data/reports/data_docs/<run id>/index.html, linked from the Dagster assets' metadata.
The pages load jQuery, Bootstrap and bootstrap-table from CDNs, which a pipeline server often
cannot reach — the index then shows an empty table. After each build the links are rewritten
to copies in the site's static/vendor/ folder (expectations/data_docs_static/, see its
LICENSES.md).
"""

from __future__ import annotations

import hashlib
import os
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
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker-1.9.0.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "fontawesome-6.6.0/css/all.min.css",
}  # fmt: skip


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
    """Point the CDN links of every page (written at or after `since`) at the vendored copies."""
    vendor = directory / VENDOR
    if not vendor.exists():
        shutil.copytree(STATIC, vendor)
    for page in directory.rglob("*.html"):
        if page.stat().st_mtime < since - 1:  # (coarse file-system clocks)
            continue
        text = page.read_text(encoding="utf-8")
        prefix = os.path.relpath(vendor, page.parent)
        new = text
        for url, name in CDN.items():
            new = new.replace(url, f"{prefix}/{name}")
        if new != text:
            page.write_text(new, encoding="utf-8")
