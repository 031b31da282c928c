"""The report's charts as Vega-Lite specifications, made with Altair.

The browser draws them with the vendored Vega bundle (no CDN), in German number format (the
vega-embed `formatLocale`, report/static/report.js). Colours are the Okabe–Ito palette, which
stays distinguishable with the common colour-vision deficiencies; lines also differ by dash and
points by shape, so no chart depends on colour alone. Each chart's table stands beside it in
the page.

Altair builds each kind of chart once, with named datasets and placeholders for what differs
from page to page (titles, the school years, the order); a page's chart is that template with
its data filled in. Building ~100 charts with Altair itself took ten seconds — on every run.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import altair as alt
import pandas as pd

# Okabe & Ito (2008), "Color Universal Design"
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
)
RUHR, NRW = "Ruhrgebiet", "NRW"
NUMBER = ",.1f"  # d3 format; with the German locale: 1.234,5
WIDTH = 560


def _slot(name: str) -> str:
    """A placeholder for text (a title)."""
    return f"@@{name}@@"


def _slots(name: str) -> list[str]:
    """A placeholder for a list (a scale's domain, a sort order)."""
    return [_slot(name)]


def _fill(template: str, data: dict[str, pd.DataFrame | list[dict]], **slots: Any) -> dict:
    """The template with its placeholders replaced (JSON values) and its datasets inlined."""
    text = template
    for name, value in slots.items():
        filled = json.dumps(value, ensure_ascii=False)
        text = text.replace(json.dumps(_slots(name)), filled)
        text = text.replace(json.dumps(_slot(name)), filled)
    spec = json.loads(text)
    spec["datasets"] = {
        name: json.loads(rows.to_json(orient="records", force_ascii=False))
        if isinstance(rows, pd.DataFrame)
        else rows
        for name, rows in data.items()
    }
    return spec


def _template(chart: alt.TopLevelMixin) -> str:
    # the data are named (filled per page); nothing to validate that the browser test does not
    return json.dumps(chart.to_dict(validate=False), ensure_ascii=False)


# --- the Ruhr against NRW over the years, with the target --------------------------------------


@cache
def _trend() -> str:
    x = alt.X("Schuljahr:O", scale=alt.Scale(domain=_slots("years")), axis=alt.Axis(labelAngle=-45))
    regions = alt.Scale(domain=[RUHR, NRW], range=[BLUE, ORANGE])
    lines = (
        alt.Chart(alt.Data(name="series"))
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=x,
            y=alt.Y("Wert:Q", title=_slot("unit"), scale=alt.Scale(zero=False)),
            color=alt.Color("Region:N", scale=regions, legend=alt.Legend(title=None, orient="top")),
            strokeDash=alt.StrokeDash(
                "Region:N", legend=None, scale=alt.Scale(domain=[RUHR, NRW], range=[[1, 0], [6, 3]])
            ),
            shape=alt.Shape(
                "Region:N",
                legend=None,
                scale=alt.Scale(domain=[RUHR, NRW], range=["circle", "square"]),
            ),
            tooltip=["Schuljahr:O", "Region:N", alt.Tooltip("Wert:Q", format=NUMBER)],
        )
    )
    goal = alt.Chart(alt.Data(name="target"))
    path = (
        alt.Chart(alt.Data(name="path"))
        .mark_line(color="#555555", strokeDash=[1, 3], strokeWidth=1.5)
        .encode(x=x, y="Wert:Q")
    )
    return _template(
        alt.layer(
            lines,
            path,
            goal.mark_rule(color="black", strokeDash=[2, 2]).encode(y="Wert:Q"),
            goal.mark_point(shape="diamond", size=160, filled=True, color="black").encode(
                x=x,
                y="Wert:Q",
                tooltip=["Text:N", "Schuljahr:O", alt.Tooltip("Wert:Q", format=NUMBER)],
            ),
            goal.mark_text(align="right", dx=-8, dy=-8, fontWeight="bold").encode(
                x=x, y="Wert:Q", text="Text:N"
            ),
        ).properties(width=WIDTH, height=300)
    )


def trend(
    series: pd.DataFrame,
    years: list[str],
    unit_title: str,
    target: tuple[str, float],
    path: list[tuple[str, float]],
) -> dict[str, Any]:
    """series: Schuljahr, Region (RUHR | NRW), Wert; the target (school year, value) and the
    straight path from the baseline to it."""
    year, value = target
    return _fill(
        _trend(),
        {
            "series": series,
            "target": [{"Schuljahr": year, "Wert": value, "Text": "Ziel"}],
            "path": [{"Schuljahr": y, "Wert": v} for y, v in path],
        },
        years=years,
        unit=unit_title,
    )


# --- the municipalities ranked -----------------------------------------------------------------


@cache
def _ranking() -> str:
    bars = (
        alt.Chart(alt.Data(name="municipalities"))
        .mark_bar()
        .encode(
            y=alt.Y("Gemeinde:N", sort=_slots("order"), title=None),
            x=alt.X("Wert:Q", title=_slot("unit")),
            color=alt.Color(
                "Art:N",
                scale=alt.Scale(
                    domain=["kreisfreie Stadt", "kreisangehörige Gemeinde"], range=[BLUE, SKY]
                ),
                legend=alt.Legend(title=None, orient="top", labelLimit=260),
            ),
            tooltip=["Gemeinde:N", "Kreis:N", alt.Tooltip("Wert:Q", format=NUMBER)],
        )
    )
    rules = (
        alt.Chart(alt.Data(name="references"))
        .mark_rule(strokeWidth=2, color="black")
        .encode(
            x="Wert:Q",
            strokeDash=alt.StrokeDash(
                "Region:N",
                scale=alt.Scale(domain=[RUHR, NRW], range=[[1, 0], [6, 3]]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=["Region:N", alt.Tooltip("Wert:Q", format=NUMBER)],
        )
    )
    return _template(alt.layer(bars, rules).properties(width=WIDTH - 160))


def ranking(rows: pd.DataFrame, unit_title: str, ruhr: float | None, nrw: float | None) -> dict:
    """rows (in rank order): Gemeinde, Kreis, Art, Wert; the Ruhr and NRW as lines."""
    references = [
        {"Region": name, "Wert": value}
        for name, value in ((RUHR, ruhr), (NRW, nrw))
        if value is not None
    ]
    spec = _fill(
        _ranking(),
        {"municipalities": rows, "references": references},
        order=rows.Gemeinde.tolist(),
        unit=unit_title,
    )
    spec["height"] = 14 * len(rows)
    return spec


# --- subgroups -----------------------------------------------------------------------------------

SUBGROUPS = {
    "Geschlecht": ("weiblich", "männlich"),
    "Staatsangehörigkeit": ("deutsch", "ausländisch"),
}
SUBGROUP_COLOURS = {
    "weiblich": PURPLE,
    "männlich": GREEN,
    "deutsch": BLUE,
    "ausländisch": VERMILLION,
}


@cache
def _subgroups() -> str:
    panels = []
    for feature, groups in SUBGROUPS.items():
        panels.append(
            alt.Chart(alt.Data(name=feature), title=f"nach {feature}")
            .mark_line(point=True, strokeWidth=2.5)
            .encode(
                x=alt.X(
                    "Schuljahr:O",
                    scale=alt.Scale(domain=_slots("years")),
                    axis=alt.Axis(labelAngle=-45),
                ),
                y=alt.Y("Wert:Q", title=_slot("unit"), scale=alt.Scale(zero=False)),
                color=alt.Color(
                    "Gruppe:N",
                    scale=alt.Scale(
                        domain=list(groups), range=[SUBGROUP_COLOURS[g] for g in groups]
                    ),
                    legend=alt.Legend(title=None, orient="top"),
                ),
                strokeDash=alt.StrokeDash(
                    "Gruppe:N",
                    legend=None,
                    scale=alt.Scale(domain=list(groups), range=[[1, 0], [6, 3]]),
                ),
                shape=alt.Shape(
                    "Gruppe:N",
                    legend=None,
                    scale=alt.Scale(domain=list(groups), range=["circle", "triangle"]),
                ),
                tooltip=["Schuljahr:O", "Gruppe:N", alt.Tooltip("Wert:Q", format=NUMBER)],
            )
            .properties(width=270, height=220)
        )
    return _template(
        alt.hconcat(*panels).resolve_scale(
            color="independent", strokeDash="independent", shape="independent"
        )
    )


def subgroups(rows: pd.DataFrame, years: list[str], unit_title: str) -> dict[str, Any]:
    """The Ruhr by sex and by nationality over the years, side by side.
    rows: Schuljahr, Merkmal (Geschlecht | Staatsangehörigkeit), Gruppe, Wert."""
    data = {f: rows[rows.Merkmal == f][["Schuljahr", "Gruppe", "Wert"]] for f in SUBGROUPS}
    return _fill(_subgroups(), data, years=years, unit=unit_title)


# --- the dot map ---------------------------------------------------------------------------------


@cache
def _dot_map(
    width: int, height: int, east: tuple[int, int], north: tuple[int, int], reverse: bool
) -> str:
    x = alt.X("Ost:Q", scale=alt.Scale(domain=list(east)), axis=None)
    y = alt.Y("Nord:Q", scale=alt.Scale(domain=list(north)), axis=None)
    schools = (
        alt.Chart(alt.Data(name="schools"))
        .mark_circle(size=5, color="#9a9a9a", opacity=0.5)
        .encode(x=x, y=y)
    )
    places = (
        alt.Chart(alt.Data(name="places"))
        .mark_circle(size=230, opacity=0.95, stroke="white", strokeWidth=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "Wert:Q",
                title=_slot("unit"),
                scale=alt.Scale(scheme="viridis", reverse=reverse),
                legend=alt.Legend(orient="right", format=NUMBER),
            ),
            tooltip=["Gemeinde:N", alt.Tooltip("Wert:Q", format=NUMBER)],
        )
    )
    return _template(alt.layer(schools, places).properties(width=width, height=height))


def dot_map(
    schools: pd.DataFrame, places: pd.DataFrame, unit_title: str, higher_is_better: bool
) -> dict[str, Any]:
    """Where the municipalities lie: every school a small grey dot (UTM zone 32 metres, so x and
    y share one scale), each municipality a circle at the centre of its schools, coloured by
    its value (viridis: darker is worse). schools: Ost, Nord; places: Gemeinde, Ost, Nord,
    Wert."""
    east = (int(schools.Ost.min()), int(schools.Ost.max()))
    north = (int(schools.Nord.min()), int(schools.Nord.max()))
    height = round(WIDTH * (north[1] - north[0]) / (east[1] - east[0]))
    template = _dot_map(WIDTH, height, east, north, not higher_is_better)
    return _fill(template, {"schools": schools, "places": places}, unit=unit_title)


# --- a municipality's profile ---------------------------------------------------------------------

PROFILE_WIDTH = 760
LEVEL_COLOURS = {"Gemeinde": VERMILLION, "Kreis": GREEN, RUHR: BLUE, NRW: ORANGE}
LEVEL_SHAPES = {"Gemeinde": "circle", "Kreis": "triangle-up", RUHR: "square", NRW: "diamond"}


@cache
def _profile() -> str:
    return _template(
        alt.Chart(alt.Data(name="values"))
        .mark_point(filled=True, size=110, opacity=0.9)
        .encode(
            x=alt.X(
                "Wert:Q",
                title=None,
                scale=alt.Scale(zero=False, nice=True, padding=14),
                axis=alt.Axis(tickCount=5, labelOverlap=True, format=",~f"),
            ),
            color=alt.Color(
                "Ebene:N",
                legend=alt.Legend(title=None, orient="top"),
                scale=alt.Scale(domain=_slots("levels"), range=_slots("colours")),
            ),
            shape=alt.Shape(
                "Ebene:N",
                legend=None,
                scale=alt.Scale(domain=_slots("levels"), range=_slots("shapes")),
            ),
            tooltip=["Indikator:N", "Ebene:N", alt.Tooltip("Wert:Q", format=NUMBER)],
        )
        .properties(width=PROFILE_WIDTH, height=28)
        .facet(
            row=alt.Row(
                "Indikator:N",
                sort=_slots("order"),
                title=None,
                header=alt.Header(
                    labelAngle=0,
                    labelAlign="left",
                    labelAnchor="start",
                    labelOrient="top",
                    labelFontWeight="bold",
                    labelFontSize=12,
                    labelLimit=PROFILE_WIDTH,
                    labelPadding=4,
                ),
            ),
            spacing=16,
        )
        .resolve_scale(x="independent")
    )


def profile(rows: pd.DataFrame, order: list[str]) -> dict[str, Any]:
    """A municipality on every indicator against its Kreis, the Ruhr and NRW (latest year),
    one row per indicator with its own scale. rows: Indikator, Ebene, Wert."""
    levels = [level for level in LEVEL_COLOURS if level in set(rows.Ebene)]
    return _fill(
        _profile(),
        {"values": rows},
        levels=levels,
        colours=[LEVEL_COLOURS[v] for v in levels],
        shapes=[LEVEL_SHAPES[v] for v in levels],
        order=order,
    )
