"""Checks across time, levels, subgroups and deliveries: each with data that trips it and data
that does not."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from expectations import cross_checks
from expectations.cross_checks import settings
from schemas.regions import snapshot_rows
from sources.registry import load_registry

RECKLINGHAUSEN = "05562"
TOWNS = [f"05562{n}" for n in ("004", "008", "012", "014", "016", "020", "024", "028", "032",
                               "036")]  # fmt: skip


def source(source_id: str = "schulabgaenger_abschlussart", **changes):
    return load_registry()[source_id].model_copy(update=changes)


def records(rows: list[tuple]) -> pd.DataFrame:
    """rows: (measure, region, school year, value[, sex, nationality, status])"""
    out = []
    for line, (measure, region, year, value, *rest) in enumerate(rows, start=2):
        sex = rest[0] if rest else "total"
        nationality = rest[1] if len(rest) > 1 else "total"
        status = rest[2] if len(rest) > 2 else "ok"
        out.append({"measure": measure, "region_code": region, "school_year": year,
                    "start_year": int(year[:4]), "sex": sex, "nationality": nationality,
                    "value": value, "status": status, "source_line": line, "file_name": "f.csv",
                    "delivery_id": "d1"})  # fmt: skip
    return pd.DataFrame(out)


EMPTY = records([("leavers_total", "05513000", "2020/21", 1.0)]).iloc[0:0]


def _run(name: str):
    """A cross check over pandas frames: each frame becomes a relation of one connection."""

    def run(source, *arguments):
        *frames, config = arguments
        conn = duckdb.connect()
        relations = []
        for i, frame in enumerate(frames):
            conn.register(f"frame_{i}", frame)
            conn.execute(f"CREATE TABLE rel_{i} AS SELECT * FROM frame_{i}")
            relations.append(f"rel_{i}")
        check = getattr(cross_checks, name)(conn, source, *relations, config)
        findings = conn.execute(f"SELECT * FROM {check.findings} ORDER BY ord").df()
        return SimpleNamespace(outcome=check.outcome, message=check.message, findings=findings)

    return run


year_over_year = _run("year_over_year")
completeness = _run("completeness")
level_consistency = _run("level_consistency")
subgroups = _run("subgroups")
revisions = _run("revisions")


# --- year over year ---------------------------------------------------------------------------


def test_a_jump_against_the_year_before_is_flagged_with_both_values() -> None:
    src = source()
    history = records([("leavers_total", "05513000", "2021/22", 2400.0)])
    new = records([("leavers_total", "05513000", "2022/23", 4100.0),
                   ("leavers_total", "05112000", "2022/23", 3000.0)])  # fmt: skip
    check = year_over_year(src, new, history, settings(src))
    assert check.outcome == "WARNING"
    (finding,) = check.findings.to_dict("records")
    assert (finding["region_code"], finding["value"], finding["reference"]) == (
        "05513000", 4100.0, 2400.0)  # fmt: skip
    assert finding["message"] == "leavers_total 05513000 2022/23: 2 400 in 2021/22 → 4 100 (+71 %)"
    assert finding["message_de"] == (
        "leavers_total 05513000 2022/23: 2 400 im Schuljahr 2021/22 → 4 100 (+71 %)"
    )


def test_ordinary_changes_small_numbers_and_symbols_are_not_jumps() -> None:
    src = source()
    history = records([("leavers_total", "05513000", "2021/22", 2400.0),
                       ("leavers_total", "05562004", "2021/22", 20.0),
                       ("leavers_total", "05562008", "2021/22", 500.0)])  # fmt: skip
    new = records([("leavers_total", "05513000", "2022/23", 2520.0),  # +5 %
                   ("leavers_total", "05562004", "2022/23", 45.0),  # +125 % but only +25
                   ("leavers_total", "05562008", "2022/23", None, "total", "total",
                    "suppressed")])  # fmt: skip
    check = year_over_year(src, new, history, settings(src))
    assert check.outcome == "PASS" and check.findings.empty


def test_the_threshold_is_configurable_per_source() -> None:
    history = records([("leavers_total", "05513000", "2021/22", 2400.0)])
    new = records([("leavers_total", "05513000", "2022/23", 4100.0)])
    lenient = source(quality={"year_over_year": {"relative": 1.0}})
    assert year_over_year(lenient, new, history, settings(lenient)).outcome == "PASS"


# --- completeness -----------------------------------------------------------------------------


def test_a_missing_municipality_is_a_gap() -> None:
    src = source(coverage="05562")
    present = [("leavers_total", town, "2022/23", 100.0) for town in TOWNS[:-1]]
    check = completeness(src, records(present), settings(src))
    assert check.outcome == "WARNING"
    (finding,) = check.findings.to_dict("records")
    assert (finding["region_code"], finding["school_year"]) == (TOWNS[-1], "2022/23")
    assert "05562036 is missing (gemeinde level of coverage 05562)" in finding["message"]
    assert "05562036 fehlt" in finding["message_de"]


def test_complete_coverage_and_kreisfreie_staedte_under_either_key() -> None:
    src = source(coverage="05562")
    full = [("leavers_total", town, "2022/23", 100.0) for town in TOWNS]
    assert completeness(src, records(full), settings(src)).outcome == "PASS"
    # the Ruhr's 15 Kreise: kreisfreie Städte may come as Gemeinde keys (05513000)
    ruhr = source("regionalstatistik_21111_01_03_4", coverage="RVR")
    kreise = ["05112000", "05113000", "05117000", "05119000", "05512000", "05513000",
              "05911000", "05913000", "05914000", "05915000", "05916000", "05170", "05562",
              "05954", "05978"]  # fmt: skip
    rows = [("pupils_total", code, "2023/24", 1000.0) for code in kreise]
    assert completeness(ruhr, records(rows), settings(ruhr)).outcome == "PASS"


# --- level consistency ------------------------------------------------------------------------


def test_towns_that_do_not_add_up_to_their_kreis_within_rounding() -> None:
    src = source(rounding=5)
    towns = [("pupils_total", town, "2022/23", 1000.0) for town in TOWNS]
    within = records([*towns, ("pupils_total", RECKLINGHAUSEN, "2022/23", 10_025.0)])
    assert level_consistency(src, within, settings(src)).outcome == "PASS"  # ±27.5 allowed
    beyond = records([*towns, ("pupils_total", RECKLINGHAUSEN, "2022/23", 10_060.0)])
    check = level_consistency(src, beyond, settings(src))
    assert check.outcome == "WARNING"
    (finding,) = check.findings.to_dict("records")
    assert finding["message"] == (
        "pupils_total 05562 2022/23: delivered 10 060, its 10 gemeinde parts add up to 10 000 "
        "(difference +60, allowed ±27.5)"
    )


def test_without_declared_rounding_totals_must_add_up_exactly() -> None:
    src = source(rounding=None)
    towns = [("pupils_total", town, "2022/23", 1000.0) for town in TOWNS]
    check = level_consistency(src, records([*towns, ("pupils_total", RECKLINGHAUSEN, "2022/23",
                                                     10_001.0)]), settings(src))  # fmt: skip
    assert check.outcome == "WARNING"
    incomplete = records([*towns[:-1], ("pupils_total", RECKLINGHAUSEN, "2022/23", 5.0)])
    assert level_consistency(src, incomplete, settings(src)).outcome == "PASS"  # not all parts


def test_subgroups_must_add_up_to_the_total() -> None:
    src = source()
    good = records([("leavers_total", "05513000", "2022/23", 100.0),
                    ("leavers_total", "05513000", "2022/23", 48.0, "female", "total"),
                    ("leavers_total", "05513000", "2022/23", 52.0, "male", "total")])  # fmt: skip
    assert subgroups(src, good, settings(src)).outcome == "PASS"
    bad = good.copy()
    bad.loc[2, "value"] = 57.0
    check = subgroups(src, bad, settings(src))
    assert check.outcome == "WARNING"
    assert check.findings.iloc[0]["message"] == (
        "leavers_total 05513000 2022/23: total 100 but female + male = 105"
    )


# --- revisions ---------------------------------------------------------------------------------


def test_a_delivery_that_changes_loaded_values_is_flagged_with_old_and_new() -> None:
    src = source("kita_betreuung")
    previous = records([("daycare_children_u3", "05113000", "2023/24", 4200.0, "total", "total",
                         "provisional"),
                        ("daycare_children_u3", "05112000", "2023/24", 3100.0)])  # fmt: skip
    previous["file_name"] = "kita_2024.csv"
    new = records([("daycare_children_u3", "05113000", "2023/24", 4312.0),
                   ("daycare_children_u3", "05112000", "2023/24", 3100.0)])  # fmt: skip
    check = revisions(src, new, previous, settings(src))
    assert check.outcome == "WARNING"
    (finding,) = check.findings.to_dict("records")
    assert finding["message"] == (
        "daycare_children_u3 05113000 2023/24: 4 200 provisional (from kita_2024.csv) → 4 312"
    )
    assert (finding["value"], finding["reference"]) == (4312.0, 4200.0)


def test_new_years_and_unchanged_values_are_no_revisions() -> None:
    src = source("kita_betreuung")
    previous = records([("daycare_children_u3", "05113000", "2022/23", 4100.0)])
    new = records([("daycare_children_u3", "05113000", "2022/23", 4100.0),
                   ("daycare_children_u3", "05113000", "2023/24", 4300.0)])  # fmt: skip
    assert revisions(src, new, previous, settings(src)).outcome == "PASS"
    assert revisions(src, new, EMPTY, settings(src)).outcome == "PASS"


@pytest.mark.parametrize("check", ["completeness", "level_consistency", "subgroups",
                                   "revisions"])  # fmt: skip
def test_each_check_can_be_switched_off_per_source(check: str) -> None:
    src = source(quality={check: False})
    assert settings(src)[check]["enabled"] is False


# --- other sources ------------------------------------------------------------------------------

source_conflicts = _run("source_conflicts")


def other_values(rows: list[tuple], source_id: str, standing: str, rank: int = 1) -> pd.DataFrame:
    frame = records(rows)[["measure", "region_code", "school_year", "start_year", "sex",
                           "nationality", "value", "status"]]  # fmt: skip
    return frame.assign(source_id=source_id, standing=standing, rank=rank, file_name="k.csv")


def test_a_figure_another_source_states_differently_names_both_sources_and_values() -> None:
    """Duisburg under its Gemeinde key (synthetic) and its Kreis key (official): one figure."""
    synthetic = source()  # schulabgaenger_abschlussart, standing synthetic
    new = records([("leavers_total", "05112000", "2022/23", 4000.0),
                   ("leavers_total", "05513000", "2022/23", 700.0)])  # fmt: skip
    others = other_values([("leavers_total", "05112", "2022/23", 4105.0),
                           ("leavers_total", "05513", "2022/23", 700.0)],  # the same: no finding
                          "amtliche_quelle", "official")  # fmt: skip
    check = source_conflicts(synthetic, new, others, settings(synthetic))
    assert check.outcome == "WARNING"
    (finding,) = check.findings.to_dict("records")
    assert (finding["region_code"], finding["value"], finding["reference"]) == (
        "05112000", 4000.0, 4105.0)  # fmt: skip
    assert finding["message"] == (
        "leavers_total 05112000 2022/23: 4 000 here (synthetic), 4 105 from amtliche_quelle "
        "(official, k.csv); current: amtliche_quelle"
    )
    assert finding["message_de"] == (
        "leavers_total 05112000 2022/23: 4 000 hier (synthetisch), 4 105 laut amtliche_quelle "
        "(amtlich, k.csv); es gilt: amtliche_quelle"
    )
    # the same pair seen from the official source, arriving second: the same finding's values
    official = source("regionalstatistik_21111_01_03_4")
    new = records([("leavers_total", "05112", "2022/23", 4105.0)])
    others = other_values([("leavers_total", "05112000", "2022/23", 4000.0)],
                          "schulabgaenger_abschlussart", "synthetic")  # fmt: skip
    (finding,) = source_conflicts(official, new, others, settings(official)).findings.to_dict(
        "records"
    )
    assert finding["message"] == (
        "leavers_total 05112 2022/23: 4 105 here (official), 4 000 from "
        "schulabgaenger_abschlussart (synthetic, k.csv); current: regionalstatistik_21111_01_03_4"
    )


def test_sources_that_agree_or_share_no_measure_pass() -> None:
    src = source()
    new = records([("leavers_total", "05513000", "2022/23", 700.0)])
    same = other_values([("leavers_total", "05513000", "2022/23", 700.0)], "x_quelle", "partner")
    assert source_conflicts(src, new, same, settings(src)).outcome == "PASS"
    other_measure = other_values([("pupils_total", "05513000", "2022/23", 9.0)], "y", "official")
    check = source_conflicts(src, new, other_measure, settings(src))
    assert (check.outcome, check.message) == (
        "PASS",
        "no figures another source states differently",
    )


# --- territory over time -----------------------------------------------------------------------

HANAU_OLD, HANAU_NEW = "06435014", "06415000"  # under the Main-Kinzig-Kreis / kreisfrei (2026)
MAIN_KINZIG = "06435"


def snapshot(level: str, land: str) -> list[str]:
    """The keys of one level and Land in regions.csv's territory (before Hanau's change)."""
    return sorted(
        r.region_code
        for r in snapshot_rows()
        if r.is_current and r.level == level and r.region_code.startswith(land)
    )


HESSEN_BEFORE = snapshot("gemeinde", "06")
HESSEN_AFTER = sorted({*HESSEN_BEFORE, HANAU_NEW} - {HANAU_OLD})
NRW_KREISE_TODAY = snapshot("kreis", "05")  # with the StädteRegion Aachen (05334, 2009)
NRW_KREISE_2007 = sorted({*NRW_KREISE_TODAY, "05313", "05354"} - {"05334"})


def delivered(codes: list[str], year: str) -> pd.DataFrame:
    return records([("leavers_total", code, year, 10.0) for code in codes])


def test_each_school_year_is_complete_with_the_keys_valid_in_it() -> None:
    hessen = source(coverage="06")
    assert completeness(hessen, delivered(HESSEN_AFTER, "2026/27"), settings(hessen)).outcome == (
        "PASS"
    )
    assert completeness(hessen, delivered(HESSEN_BEFORE, "2024/25"), settings(hessen)).outcome == (
        "PASS"
    )
    nrw = source(coverage="05")
    assert completeness(nrw, delivered(NRW_KREISE_2007, "2007/08"), settings(nrw)).outcome == "PASS"
    # the school year of a change accepts either territory: its keys in force all year
    for keys in (HESSEN_BEFORE, HESSEN_AFTER):
        assert completeness(hessen, delivered(keys, "2025/26"), settings(hessen)).outcome == "PASS"


def test_a_key_of_another_year_does_not_stand_for_the_key_of_this_year() -> None:
    hessen = source(coverage="06")
    after = completeness(hessen, delivered(HESSEN_BEFORE, "2026/27"), settings(hessen))
    (finding,) = after.findings.to_dict("records")
    assert (finding["region_code"], finding["message"], finding["message_de"]) == (
        HANAU_NEW,
        "leavers_total 2026/27: 06415000 is missing (gemeinde level of coverage 06)",
        "leavers_total 2026/27: 06415000 fehlt (Ebene gemeinde im Abdeckungsgebiet 06)",
    )
    before = completeness(hessen, delivered(HESSEN_AFTER, "2024/25"), settings(hessen))
    assert before.findings["message"].tolist() == [
        "leavers_total 2024/25: 06435014 is missing (gemeinde level of coverage 06)"
    ]
    nrw = source(coverage="05")
    check = completeness(nrw, delivered(NRW_KREISE_TODAY, "2007/08"), settings(nrw))
    assert check.outcome == "WARNING"
    assert check.findings["message_de"].tolist() == [
        "leavers_total 2007/08: 05313 fehlt (Ebene kreis im Abdeckungsgebiet 05)",
        "leavers_total 2007/08: 05354 fehlt (Ebene kreis im Abdeckungsgebiet 05)",
    ]


def test_a_source_on_todays_territory_is_complete_with_todays_keys_in_every_year() -> None:
    today = source(coverage="05", territory="today")
    assert completeness(today, delivered(NRW_KREISE_TODAY, "2007/08"), settings(today)).outcome == (
        "PASS"
    )
    check = completeness(today, delivered(NRW_KREISE_2007, "2007/08"), settings(today))
    assert check.findings["message"].tolist() == [
        "leavers_total 2007/08: 05334 is missing (kreis level of coverage 05)"
    ]


def test_a_kreis_is_the_sum_of_its_gemeinden_of_the_year() -> None:
    """The Main-Kinzig-Kreis with Hanau until 2025, without it from 2026."""
    src = source(rounding=5)
    towns = [c for c in snapshot("gemeinde", MAIN_KINZIG) if c != HANAU_OLD]  # 28

    def kreis(year: str, hanau: str | None, total: float) -> pd.DataFrame:
        rows = [("pupils_total", town, year, 100.0) for town in towns]
        rows += [("pupils_total", hanau, year, 1000.0)] if hanau else []
        return records([*rows, ("pupils_total", MAIN_KINZIG, year, total)])

    assert level_consistency(src, kreis("2024/25", HANAU_OLD, 3800.0), settings(src)).outcome == (
        "PASS"
    )
    assert level_consistency(src, kreis("2026/27", None, 2800.0), settings(src)).outcome == "PASS"
    # Hanau's figure still in the Kreis's total after it left: its 28 parts say otherwise
    check = level_consistency(src, kreis("2026/27", HANAU_OLD, 3800.0), settings(src))
    (finding,) = check.findings.to_dict("records")
    assert (finding["message"], finding["message_de"]) == (
        "pupils_total 06435 2026/27: delivered 3 800, its 28 gemeinde parts add up to 2 800 "
        "(difference +1 000, allowed ±72.5)",
        "pupils_total 06435 2026/27: geliefert 3 800, die 28 Teile (Ebene gemeinde) ergeben "
        "2 800 (Differenz +1 000, erlaubt ±72.5)",
    )
