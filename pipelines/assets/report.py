"""The indicator report: built from every publication, for the steering group and partners."""

import dagster as dg

from pipelines.resources import WarehouseResource

REPORT_KEY = dg.AssetKey(["publish", "indikatorenbericht"])


@dg.asset(
    key=REPORT_KEY,
    group_name="publish",
    deps=[dg.AssetKey(["publish", "bildungsmonitor"])],
    description=(
        "data/reports/bericht/index.html: the indicator report in German (report/site.py, "
        "docs/report.md) — every goal with its indicators against baseline and target, a page "
        "per indicator (Ruhr vs NRW, the 53 municipalities, subgroups, a dot map, data notes, "
        "the backbone office's commentary from report/commentary.yaml) and a printable profile "
        "per municipality. Read from the publication only; opens from file:// without network. "
        "Not drawn again when nothing it shows changed (metadata `unchanged`)."
    ),
    kinds={"html"},
    owners=["team:backbone-office"],
)
def indicator_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    paths = warehouse.paths
    # altair, jinja2, pandas (0.9 s): only when the report is built, not at every definitions load
    from report.site import build_report

    site = build_report(paths.published_db, paths.report)
    kept = " — unchanged, nothing it shows changed" if site.unchanged else ""
    context.log.info(f"indicator report: {site.index} ({len(site.pages)} pages){kept}")
    return dg.MaterializeResult(
        metadata={
            "unchanged": site.unchanged,
            "report": dg.MetadataValue.url(site.index.as_uri()),
            "path": dg.MetadataValue.path(str(site.index)),
            "pages": len(site.pages),
            "charts": site.charts,
            "size_bytes": site.size_bytes,
        }
    )
