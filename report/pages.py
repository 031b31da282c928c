"""The content of every page of the report: what each table and chart shows, in German.

A `Pages` object holds the publication's data once, with look-ups by indicator, region and
school year, and returns for each page the values its template (report/templates/) renders:
already formatted the German way (report/german.py), with the charts' specifications
(report/charts.py) and the verdicts (report/progress.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from report import charts, german
from report.commentary import Story
from report.data import ReportData
from report.progress import Progress, assess
from schemas.catalogue import load_catalogue
from schemas.tables import NRW_CODE, RUHR_CODE, parse_school_year, school_year_label


@dataclass
class Chart:
    id: str
    spec: str  # JSON, safe inside <script type="application/json">
    label: str  # what the chart shows, for screen readers


def _value(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _years(first: int, last: int) -> list[str]:
    return [school_year_label(y) for y in range(first, last + 1)]


STATUS_LABELS = {
    "suppressed": "geheim gehalten oder unbekannt",
    "not_available": "liegt noch nicht vor",
    "not_applicable": "nicht sinnvoll (Nenner null)",
    "unreliable": "nicht sicher genug",
    "provisional": "vorläufig",
    "estimated": "geschätzt",
}


class Pages:
    def __init__(self, data: ReportData, commentary: dict[str, Story]) -> None:
        self.data = data
        self.commentary = commentary
        self.charts = 0
        t = data.trends
        self.by_indicator = {k: v for k, v in t.groupby("indicator_id", sort=False)}
        self.totals = t[(t.sex == "total") & (t.nationality == "total")]
        self.total_by_indicator = {k: v for k, v in self.totals.groupby("indicator_id")}
        # look-ups by key: filtering the frame for every cell of 66 pages costs a minute
        self.index = {
            (r.indicator_id, r.region_code, r.start_year): r
            for r in self.totals.itertuples(index=False)
        }
        self.latest: dict[tuple[str, str], int] = {}
        for r in self.index.values():
            key = (r.indicator_id, r.region_code)
            if _value(r.value) is not None and r.start_year > self.latest.get(key, -1):
                self.latest[key] = int(r.start_year)
        self.kreis_names = dict(zip(data.regions.region_code, data.regions.name, strict=True))
        # goals and indicators in the order the catalogue lists them (the partners' order)
        catalogue = load_catalogue()
        listed = [*catalogue.goals, *sorted(set(data.goals.goal_id) - set(catalogue.goals))]
        self.goals = sorted(data.goals.itertuples(), key=lambda g: listed.index(g.goal_id))
        order = list(catalogue.indicators)
        self.indicator_ids = sorted(
            data.indicators.index,
            key=lambda i: (
                listed.index(data.indicators.loc[i, "goal_id"]),
                order.index(i) if i in order else len(order),
                i,
            ),
        )

    # --- pieces shared by the pages ---------------------------------------------------------

    def chart(self, spec: dict[str, Any], label: str) -> Chart:
        self.charts += 1
        text = json.dumps(spec, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        return Chart(f"chart-{self.charts}", text, label)

    def latest_year(self, indicator_id: str, region: str = RUHR_CODE) -> int | None:
        """The latest school year in which `region` has a value of the indicator."""
        return self.latest.get((indicator_id, region))

    def row(self, indicator_id: str, region: str, start_year: int | None) -> Any:
        """The headline (total, total) row of a region and year, or None."""
        return self.index.get((indicator_id, region, start_year))

    def progress(self, indicator_id: str) -> tuple[int | None, Progress]:
        ind = self.data.indicators.loc[indicator_id]
        year = self.latest_year(indicator_id)
        row = self.row(indicator_id, RUHR_CODE, year)
        baseline = self.row(indicator_id, RUHR_CODE, parse_school_year(ind.baseline))
        return year, assess(
            _value(row.value) if row is not None else None,
            year,
            _value(baseline.value) if baseline is not None else None,
            parse_school_year(ind.baseline),
            float(ind.target_value),
            parse_school_year(ind.target_year),
            ind.direction,
            lambda v: german.with_unit(german.number(v), ind.unit),
        )

    # --- the start page ---------------------------------------------------------------------

    def start_page(self) -> dict[str, Any]:
        goals = []
        for goal in self.goals:
            rows = []
            for indicator_id in self.indicator_ids:
                ind = self.data.indicators.loc[indicator_id]
                if ind.goal_id != goal.goal_id:
                    continue
                year, progress = self.progress(indicator_id)
                ruhr = self.row(indicator_id, RUHR_CODE, year)
                nrw = self.row(indicator_id, NRW_CODE, year)
                baseline = self.row(indicator_id, RUHR_CODE, parse_school_year(ind.baseline))
                rows.append(
                    {
                        "id": indicator_id,
                        "name": ind["name"],
                        "unit": ind.unit,
                        "unit_label": german.unit_label(ind.unit),
                        "qualifier": german.qualifier(ind["name"], ind.unit, ind.direction),
                        "direction": ind.direction,
                        "year": school_year_label(year) if year else "–",
                        "ruhr": self.shown(ruhr, ind.unit),
                        "nrw": self.shown(nrw, ind.unit),
                        "baseline_year": ind.baseline,
                        "baseline": self.shown(baseline, ind.unit),
                        "target": german.with_unit(german.number(ind.target_value), ind.unit),
                        "target_year": ind.target_year,
                        "progress": progress,
                    }
                )
            goals.append({"goal": goal, "indicators": rows})
        return {"goals": goals, "kreise": self.kreise_with_municipalities()}

    def shown(self, row: pd.Series | None, unit: str) -> str:
        if row is None:
            return "–"
        return german.with_unit(german.cell(_value(row.value), row.status), unit)

    def kreise_with_municipalities(self) -> list[dict[str, Any]]:
        m = self.data.municipalities()
        groups = [
            {
                "name": "Kreisfreie Städte",
                "municipalities": m[m.kreisfrei].sort_values("name").to_dict("records"),
            }
        ]
        for kreis_code, part in m[~m.kreisfrei].groupby("kreis_code"):
            groups.append(
                {
                    "name": self.kreis_names.get(kreis_code, kreis_code),
                    "municipalities": part.sort_values("name").to_dict("records"),
                }
            )
        return groups

    # --- an indicator's page ----------------------------------------------------------------

    def indicator_page(self, indicator_id: str) -> dict[str, Any]:
        ind = self.data.indicators.loc[indicator_id]
        unit_title = german.unit_label(ind.unit)
        rows = self.total_by_indicator.get(indicator_id, self.totals.iloc[0:0])
        first = int(rows.start_year.min()) if not rows.empty else parse_school_year(ind.baseline)
        target_year = parse_school_year(ind.target_year)
        years = _years(min(first, parse_school_year(ind.baseline)), target_year)
        latest, progress = self.progress(indicator_id)

        # the Ruhr against NRW over all years
        series = rows[rows.region_code.isin([RUHR_CODE, NRW_CODE])]
        table = []
        for year, part in series.groupby("start_year"):
            ruhr = part[part.region_code == RUHR_CODE]
            nrw = part[part.region_code == NRW_CODE]
            first = ruhr.iloc[0] if not ruhr.empty else None
            table.append(
                {
                    "year": school_year_label(int(year)),
                    "ruhr": self.cells(ruhr),
                    "nrw": self.cells(nrw),
                    "ruhr_num": german.number(_value(first.numerator), 0)
                    if first is not None
                    else "–",
                    "ruhr_den": german.number(_value(first.denominator), 0)
                    if first is not None
                    else "–",
                }
            )
        points = pd.DataFrame(
            [
                {
                    "Schuljahr": r.school_year,
                    "Region": charts.RUHR if r.region_code == RUHR_CODE else charts.NRW,
                    "Wert": _value(r.value),
                }
                for r in series.itertuples()
                if _value(r.value) is not None
            ],
            columns=["Schuljahr", "Region", "Wert"],  # (also when there is no value at all)
        )
        baseline_row = self.row(indicator_id, RUHR_CODE, parse_school_year(ind.baseline))
        path = []
        if baseline_row is not None and _value(baseline_row.value) is not None:
            path = [
                (ind.baseline, _value(baseline_row.value)),
                (ind.target_year, float(ind.target_value)),
            ]
        trend = self.chart(
            charts.trend(
                points, years, unit_title, (ind.target_year, float(ind.target_value)), path
            ),
            f"Liniendiagramm: {ind['name']} im Ruhrgebiet und in NRW je Schuljahr, mit dem Ziel "
            f"für {ind.target_year}",
        )

        # the municipalities and the Kreise in the latest year
        municipalities, kreise, ranking, dot_map = [], [], None, None
        if latest is not None:
            at = rows[rows.start_year == latest]
            m = self.data.municipalities().merge(
                at[["region_code", "value", "status", "numerator", "denominator"]],
                on="region_code",
                how="left",
            )
            ascending = ind.direction == "down"
            m = m.sort_values(["value", "name"], ascending=[ascending, True], na_position="last")
            for rank, r in enumerate(m.itertuples(), start=1):
                municipalities.append(
                    {
                        "rank": rank if _value(r.value) is not None else "",
                        "code": r.region_code,
                        "name": r.name,
                        "kreis": "kreisfreie Stadt" if r.kreisfrei else r.kreis_name,
                        "value": german.cell(_value(r.value), r.status),
                        "numerator": german.number(_value(r.numerator), 0),
                        "denominator": german.number(_value(r.denominator), 0),
                    }
                )
            bars = pd.DataFrame(
                [
                    {
                        "region_code": r.region_code,
                        "Gemeinde": r.name,
                        "Kreis": r.kreis_name,
                        "Art": "kreisfreie Stadt" if r.kreisfrei else "kreisangehörige Gemeinde",
                        "Wert": _value(r.value),
                    }
                    for r in m.itertuples()
                    if _value(r.value) is not None
                ],
                columns=["region_code", "Gemeinde", "Kreis", "Art", "Wert"],
            )
            ruhr_row = self.row(indicator_id, RUHR_CODE, latest)
            nrw_row = self.row(indicator_id, NRW_CODE, latest)
            if not bars.empty:
                ranking = self.chart(
                    charts.ranking(
                        bars.drop(columns="region_code"),
                        unit_title,
                        _value(ruhr_row.value) if ruhr_row is not None else None,
                        _value(nrw_row.value) if nrw_row is not None else None,
                    ),
                    f"Balkendiagramm: {ind['name']} in den Gemeinden des Ruhrgebiets, "
                    f"{school_year_label(latest)}, nach Rang",
                )
                dot_map = self.map_chart(bars, ind, latest)
            k = (
                self.data.regions[self.data.regions.level == "kreis"]
                .merge(at[["region_code", "value", "status"]], on="region_code", how="left")
                .sort_values(["value", "name"], ascending=[ascending, True], na_position="last")
            )
            kreise = [
                {"name": r.name, "value": german.cell(_value(r.value), r.status)}
                for r in k.itertuples()
            ]

        return {
            "ind": ind,
            "id": indicator_id,
            "unit_title": unit_title,
            "latest": school_year_label(latest) if latest else None,
            "progress": progress,
            "trend": trend,
            "trend_table": table,
            "ranking": ranking,
            "municipalities": municipalities,
            "with_value": sum(1 for m in municipalities if m["rank"] != ""),
            "kreise": kreise,
            "map": dot_map,
            "subgroups": self.subgroups(indicator_id, years, unit_title),
            "notes": self.notes(indicator_id),
            "story": self.commentary.get(indicator_id),
            "target": german.with_unit(german.number(ind.target_value), ind.unit),
        }

    def cells(self, part: pd.DataFrame) -> str:
        if part.empty:
            return "–"
        return german.cell(_value(part.value.iloc[0]), part.status.iloc[0])

    def map_chart(self, bars: pd.DataFrame, ind: pd.Series, latest: int) -> Chart | None:
        schools = self.data.schools
        if schools.utm_east.nunique() < 2 or schools.utm_north.nunique() < 2:
            return None  # no area to draw
        centres = schools.groupby("region_code", as_index=False)[["utm_east", "utm_north"]].mean()
        places = bars.merge(centres, on="region_code").rename(
            columns={"utm_east": "Ost", "utm_north": "Nord"}
        )[["Gemeinde", "Ost", "Nord", "Wert"]]
        if places.empty:
            return None
        return self.chart(
            charts.dot_map(
                schools.rename(columns={"utm_east": "Ost", "utm_north": "Nord"})[["Ost", "Nord"]],
                places,
                german.unit_label(ind.unit),
                ind.direction == "up",
            ),
            f"Punktkarte: {ind['name']} je Gemeinde des Ruhrgebiets, {school_year_label(latest)}; "
            "die Werte stehen in der Tabelle der Gemeinden",
        )

    def subgroups(self, indicator_id: str, years: list[str], unit_title: str) -> dict[str, Any]:
        ind = self.data.indicators.loc[indicator_id]
        rate_id = ind.of_indicator if ind.kind == "gap" else indicator_id
        rate = self.data.indicators.loc[rate_id]
        rows = self.by_indicator.get(rate_id)
        empty = {"chart": None, "table": [], "rate_name": rate["name"]}
        if rows is None:
            return empty
        ruhr = rows[rows.region_code == RUHR_CODE]
        sex = ruhr[(ruhr.sex != "total") & (ruhr.nationality == "total")]
        nat = ruhr[(ruhr.sex == "total") & (ruhr.nationality != "total")]
        points = [
            {
                "Schuljahr": r.school_year,
                "Merkmal": "Geschlecht",
                "Gruppe": german.SEX[r.sex],
                "Wert": _value(r.value),
            }
            for r in sex.itertuples()
            if _value(r.value) is not None
        ] + [
            {
                "Schuljahr": r.school_year,
                "Merkmal": "Staatsangehörigkeit",
                "Gruppe": german.NATIONALITY[r.nationality],
                "Wert": _value(r.value),
            }
            for r in nat.itertuples()
            if _value(r.value) is not None
        ]
        if not points:
            return empty
        years = sorted({p["Schuljahr"] for p in points})  # what was measured; no target here
        values = {
            (r.start_year, r.sex, r.nationality): _value(r.value)
            for r in pd.concat([sex, nat]).itertuples(index=False)
        }
        table = []
        for year in sorted({y for y, _, _ in values}):
            f, m_ = values.get((year, "female", "total")), values.get((year, "male", "total"))
            d, a = values.get((year, "total", "german")), values.get((year, "total", "foreign"))
            table.append(
                {
                    "year": school_year_label(int(year)),
                    "female": german.number(f),
                    "male": german.number(m_),
                    "sex_gap": german.signed(m_ - f) if None not in (f, m_) else "–",
                    "german": german.number(d),
                    "foreign": german.number(a),
                    "nat_gap": german.signed(a - d) if None not in (a, d) else "–",
                }
            )
        chart = self.chart(
            charts.subgroups(pd.DataFrame(points), years, german.unit_label(rate.unit)),
            f"Liniendiagramme: {rate['name']} im Ruhrgebiet nach Geschlecht und nach "
            "Staatsangehörigkeit je Schuljahr",
        )
        return {"chart": chart, "table": table, "rate_name": rate["name"]}

    def notes(self, indicator_id: str) -> dict[str, Any]:
        ind = self.data.indicators.loc[indicator_id]
        rate = self.data.indicators.loc[ind.of_indicator] if ind.kind == "gap" else ind

        def labelled(joined: Any) -> list[str]:
            if joined is None or pd.isna(joined):
                return []
            return [f"{self.data.measures.get(m, m)} ({m})" for m in str(joined).split(" + ")]

        rows = self.total_by_indicator.get(indicator_id, self.totals.iloc[0:0])
        source_ids = sorted(
            {s for joined in rows.sources.dropna() for s in joined.split(", ") if s}
        )
        sources = self.data.sources[self.data.sources.source_id.isin(source_ids)]
        flagged = rows[rows.status != "ok"].sort_values(["start_year", "region_name"])
        statuses = []
        for status, part in flagged.groupby("status", sort=True):
            where = [f"{r.region_name} {r.school_year}" for r in part.itertuples()]
            statuses.append(
                {
                    "symbol": german.SYMBOLS.get(status) or german.MARKS.get(status, ""),
                    "label": STATUS_LABELS.get(status, status),
                    "count": len(part),
                    "where": where[:12],
                    "more": max(len(where) - 12, 0),
                }
            )
        breaks = self.data.series_breaks[self.data.series_breaks.indicator_id == indicator_id]
        return {
            "numerator": labelled(rate.numerator_measures),
            "denominator": labelled(rate.denominator_measures),
            "scale": german.number(rate.scale, 0) if _value(rate.scale) else None,
            "of_indicator": rate["name"] if ind.kind == "gap" else None,
            "sources": sources.to_dict("records"),
            "statuses": statuses,
            # a kreisfreie Stadt is its own Kreis: named once
            "breaks": list(
                dict.fromkeys(f"{r.region_name} {r.school_year}" for r in breaks.itertuples())
            ),
        }

    # --- a municipality's profile -----------------------------------------------------------

    def municipality_page(self, region: pd.Series) -> dict[str, Any]:
        rows, points, order = [], [], []
        for indicator_id in self.indicator_ids:
            ind = self.data.indicators.loc[indicator_id]
            year = self.latest_year(indicator_id, region.region_code) or self.latest_year(
                indicator_id
            )
            own = self.row(indicator_id, region.region_code, year)
            base = self.row(indicator_id, region.region_code, parse_school_year(ind.baseline))
            compared = [("Gemeinde", own)]
            if not region.kreisfrei:
                compared.append(("Kreis", self.row(indicator_id, region.kreis_code, year)))
            compared += [
                (charts.RUHR, self.row(indicator_id, RUHR_CODE, year)),
                (charts.NRW, self.row(indicator_id, NRW_CODE, year)),
            ]
            cells = {
                level: (german.cell(_value(r.value), r.status) if r is not None else "–")
                for level, r in compared
            }
            change = None
            now = _value(own.value) if own is not None else None
            then = _value(base.value) if base is not None else None
            if now is not None and then is not None:
                change = german.signed(now - then)
            rows.append(
                {
                    "id": indicator_id,
                    "name": ind["name"],
                    "unit_label": german.unit_label(ind.unit),
                    "year": school_year_label(year) if year else "–",
                    "cells": cells,
                    "change": change or "–",
                    "baseline": ind.baseline,
                    "direction": ind.direction,
                }
            )
            label = f"{ind['name']} ({german.qualifier(ind['name'], ind.unit, ind.direction)})"
            order.append(label)
            points += [
                {"Indikator": label, "Ebene": level, "Wert": _value(r.value)}
                for level, r in compared
                if r is not None and _value(r.value) is not None
            ]
        chart = self.chart(
            charts.profile(pd.DataFrame(points, columns=["Indikator", "Ebene", "Wert"]), order),
            f"Punktdiagramm: {region['name']} auf allen Indikatoren im Vergleich mit "
            + ("" if region.kreisfrei else "dem Kreis, ")
            + "dem Ruhrgebiet und NRW",
        )
        return {
            "region": region,
            "rows": rows,
            "profile": chart,
            "kreis": None if region.kreisfrei else region.kreis_name,
        }
