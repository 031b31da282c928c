"""The region reference (schemas/regions.csv) and the region-name matcher, on real data."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import pytest

from schemas.regions import (
    REGIONS_CSV,
    MatchResult,
    RegionMatcher,
    known_region_codes,
    load_regions,
    match_region_names,
    parse_name,
    ruhr_kreise,
    ruhr_municipalities,
)
from sources import build_regions
from sources.build_regions import display_name, region_display_name
from sources.readers import read_genesis_table

OFFICIAL = Path(__file__).resolve().parent.parent / "sources" / "demo" / "official"
ITNRW_FILE = OFFICIAL / "itnrw_21111-9k21_kommunalprofil_schulen.csv"
REGIONALSTATISTIK_FILE = OFFICIAL / "regionalstatistik_21111-01-03-4.csv"
RECORDINGS = build_regions.DEFAULT_RECORDINGS
needs_recordings = pytest.mark.skipif(
    not (RECORDINGS / build_regions.GEMEINDEN_CASSETTE).is_file()
    or not (RECORDINGS / build_regions.KREISE_CASSETTE).is_file(),
    reason=f"GENESIS recordings not found at {RECORDINGS} (../shared is not part of a clone)",
)


@pytest.fixture(scope="module")
def regions() -> pd.DataFrame:
    return load_regions().set_index("region_code", drop=False)


@pytest.fixture(scope="module")
def nrw() -> RegionMatcher:
    return RegionMatcher(scope="05")


def itnrw_names() -> list[str]:
    """Column 1 of the data lines of the IT.NRW export: line 8 up to the '__________' footer."""
    lines = ITNRW_FILE.read_text(encoding="cp1252").splitlines()
    names = []
    for line in lines[7:]:
        if line.startswith("__________"):
            break
        names.append(line.split(";")[0])
    return names


def regionalstatistik_regions() -> list[tuple[str, str]]:
    """(key, indented name) of the Regionalstatistik export, each once, in file order."""
    lines = REGIONALSTATISTIK_FILE.read_text(encoding="cp1252").splitlines()
    seen: dict[tuple[str, str], None] = {}
    for line in lines:
        fields = line.split(";")
        if len(fields) > 3 and re.fullmatch(r"\d{4}", fields[0]):
            seen.setdefault((fields[1], fields[2]), None)
    return list(seen)


def regionalstatistik_keys() -> dict[str, bool]:
    """Every key of column 2 of the Regionalstatistik export (read with the repository's
    reader), in file order: True when one of its cells holds something other than '-'."""
    table = read_genesis_table(REGIONALSTATISTIK_FILE.read_bytes(), REGIONALSTATISTIK_FILE.name)
    keys: dict[str, bool] = {}
    for row in table.rows:
        key = row.cells[1].strip()
        values = [cell.strip() for cell in row.cells[table.label_columns :]]
        keys[key] = keys.get(key, False) or any(value != "-" for value in values)
    return keys


# --- the table -----------------------------------------------------------------------------


def test_columns_and_types() -> None:
    frame = load_regions()
    # regions.csv's columns, and each key's validity (schemas/territory.yaml)
    assert list(frame.columns) == [*build_regions.COLUMNS, "valid_from", "valid_until"]
    assert frame["in_ruhr"].dtype == bool and frame["is_current"].dtype == bool
    assert frame["region_code"].is_unique
    assert list(frame["region_code"]) == sorted(frame["region_code"])
    assert set(frame["level"]) == {
        "bund",
        "land",
        "regierungsbezirk",
        "kreis",
        "gemeinde",
        "stadtbezirk",
        "verband",
    }
    # leading zeros survive; the codes have the length of their level
    lengths = frame.groupby("level")["region_code"].agg(lambda s: set(s.str.len()))
    assert lengths["land"] == {2} and lengths["regierungsbezirk"] == {3}
    assert lengths["kreis"] == {5} and lengths["gemeinde"] == {8}
    assert lengths["stadtbezirk"] == {8}
    # load_regions hands out copies
    frame.loc[0, "name"] = "changed"
    assert load_regions().loc[0, "name"] != "changed"


def test_laender_and_germany(regions: pd.DataFrame) -> None:
    laender = regions[regions["level"] == "land"]
    assert list(laender.index) == [f"{i:02d}" for i in range(1, 17)]
    assert laender.loc["05", "name"] == "Nordrhein-Westfalen"
    assert laender.loc["08", "name"] == "Baden-Württemberg"
    assert laender.loc["16", "name"] == "Thüringen"
    assert (laender["parent_code"] == "DG").all()
    assert regions.loc["DG", "name"] == "Deutschland" and pd.isna(regions.loc["DG", "parent_code"])


def test_nrw_regierungsbezirke(regions: pd.DataFrame) -> None:
    rb = regions[(regions["level"] == "regierungsbezirk") & (regions["land_code"] == "05")]
    assert dict(zip(rb.index, rb["official_name"], strict=True)) == {
        "051": "Düsseldorf, Regierungsbezirk",
        "053": "Köln, Regierungsbezirk",
        "055": "Münster, Regierungsbezirk",
        "057": "Detmold, Regierungsbezirk",
        "059": "Arnsberg, Regierungsbezirk",
    }
    assert regions.loc["055", "name"] == "Regierungsbezirk Münster"
    assert (rb["parent_code"] == "05").all()


def test_regierungsbezirke_and_statistische_regionen(regions: pd.DataFrame) -> None:
    rb = regions[regions["level"] == "regierungsbezirk"]
    current = sorted(rb.index[rb["is_current"]])
    assert current == [
        "031",
        "032",
        "033",
        "034",
        "051",
        "053",
        "055",
        "057",
        "059",
        "064",
        "065",
        "066",
        "071",
        "072",
        "073",
        "081",
        "082",
        "083",
        "084",
        "091",
        "092",
        "093",
        "094",
        "095",
        "096",
        "097",
        "145",
        "146",
        "147",
    ]
    # Sachsen's former Regierungsbezirke and Sachsen-Anhalt's former regions: all '-' in 2023
    assert sorted(rb.index[~rb["is_current"]]) == ["141", "142", "143", "151", "152", "153"]
    assert (rb["parent_code"] == rb.index.str[:2]).all()
    assert (rb["land_code"] == rb.index.str[:2]).all() and rb["kreis_code"].isna().all()
    assert not rb["in_ruhr"].any()
    expected = {
        "031": ("Statistische Region Braunschweig", "Braunschweig, Statistische Region"),
        "073": ("Statistische Region Rheinhessen-Pfalz", "Rheinhessen-Pfalz, Statistische Region"),
        "091": ("Regierungsbezirk Oberbayern", "Oberbayern, Regierungsbezirk"),
        "084": ("Regierungsbezirk Tübingen", "Tübingen, Regierungsbezirk"),
        "141": ("Regierungsbezirk Chemnitz", "Chemnitz, Regierungsbezirk"),
        "145": ("Statistische Region Chemnitz", "Chemnitz, Statistische Region"),
        "151": ("Statistische Region Dessau", "Dessau, Statistische Region"),
    }
    for code, (name, official) in expected.items():
        assert (rb.loc[code, "name"], rb.loc[code, "official_name"]) == (name, official)
    assert region_display_name("Weser-Ems, Statistische Region") == "Statistische Region Weser-Ems"
    with pytest.raises(ValueError):
        region_display_name("Wesel, Kreis")


def test_kreis_parents(regions: pd.DataFrame) -> None:
    kreise = regions[regions["level"] == "kreis"]
    rb = regions[regions["level"] == "regierungsbezirk"]
    # the 3-digit region of the key where there is one, else the Land
    expected = kreise.index.str[:3].where(kreise.index.str[:3].isin(rb.index), kreise.index.str[:2])
    assert (kreise["parent_code"] == expected).all()
    assert regions.loc["09162", "parent_code"] == "091"  # München, kreisfreie Stadt
    assert regions.loc["09162", "name"] == "München"
    assert regions.loc["03241", "parent_code"] == "032"  # Region Hannover
    assert regions.loc["01001", "parent_code"] == "01"  # Schleswig-Holstein has none
    # no current Kreis under a historical region; per Land the current Kreise hang all under
    # current 3-digit regions or all under the Land
    current = kreise[kreise["is_current"]]
    assert current["parent_code"].map(regions["is_current"]).all()
    for land, group in current.groupby("land_code"):
        parents = set(group["parent_code"])
        assert parents == {land} or parents <= set(rb.index), (land, parents)
    # every current 3-digit region has current Kreise; a historical one has none
    with_current = set(current["parent_code"])
    assert set(rb.index[rb["is_current"]]) <= with_current
    assert not set(rb.index[~rb["is_current"]]) & with_current


def test_sachsen_and_sachsen_anhalt(regions: pd.DataFrame) -> None:
    kreise = regions[regions["level"] == "kreis"]
    sachsen = kreise[kreise["land_code"] == "14"]
    current = sachsen[sachsen["is_current"]]
    assert dict(zip(current.index, current["parent_code"], strict=True)) == {
        "14511": "145",
        "14521": "145",
        "14522": "145",
        "14523": "145",
        "14524": "145",
        "14612": "146",
        "14625": "146",
        "14626": "146",
        "14627": "146",
        "14628": "146",
        "14713": "147",
        "14729": "147",
        "14730": "147",
    }
    # the Kreise dissolved in 2008 stay under the Regierungsbezirke they belonged to
    historical = sachsen[~sachsen["is_current"]]
    assert len(historical) == 29
    assert (historical["parent_code"] == historical.index.str[:3]).all()
    assert set(historical["parent_code"]) == {"141", "142", "143"}
    # Sachsen-Anhalt: no current 3-digit region, so its current Kreise hang under the Land
    anhalt = kreise[kreise["land_code"] == "15"]
    assert (anhalt.loc[anhalt["is_current"], "parent_code"] == "15").all()
    assert len(anhalt[anhalt["is_current"]]) == 14
    assert set(anhalt.loc[~anhalt["is_current"], "parent_code"]) == {"151", "152", "153"}


def test_berlin_bezirke(regions: pd.DataFrame) -> None:
    bezirke = regions[regions["level"] == "stadtbezirk"]
    assert list(bezirke.index) == [f"11{n:03d}{n:03d}" for n in range(1, 13)]
    assert bezirke.loc["11001001", "name"] == "Berlin-Mitte"
    assert bezirke.loc["11012012", "official_name"] == "Berlin-Reinickendorf"
    assert (bezirke["parent_code"] == "11000000").all()
    assert (bezirke["kreis_code"] == "11000").all() and (bezirke["land_code"] == "11").all()
    assert bezirke["is_current"].all() and not bezirke["in_ruhr"].any()
    assert set(bezirke.index) <= known_region_codes()
    # Berlin is one Gemeinde: the Bezirke are neither Gemeinden nor counted among them
    gemeinden = regions[regions["level"] == "gemeinde"]
    assert list(gemeinden.index[gemeinden["kreis_code"] == "11000"]) == ["11000000"]
    assert regions.loc["11000000", "parent_code"] == "11000"
    assert set(regions.index[regions["parent_code"] == "11000000"]) == set(bezirke.index)
    assert regions.loc["11000", "parent_code"] == "11"
    assert RegionMatcher("11").match("Berlin-Mitte").code == "11001001"


def test_every_regionalstatistik_key_is_known(regions: pd.DataFrame) -> None:
    keys = regionalstatistik_keys()
    assert len(keys) == 538
    assert set(keys) <= set(regions.index)  # nothing is left out
    # a key is current exactly when its rows carry values; the others are dissolved regions
    # whose rows are '-' throughout (e.g. 05354 Kreis Aachen, Sachsen's Kreise before 2008)
    with_values = {key for key, has in keys.items() if has}
    assert with_values <= known_region_codes()
    assert all(regions.loc[key, "is_current"] == has for key, has in keys.items())
    historical = sorted(set(keys) - with_values)
    assert len(historical) == 79
    assert [k for k in historical if len(k) != 5] == ["141", "142", "143", "151", "152", "153"]
    assert {"05354", "03152", "13001", "14161", "15101", "16056"} <= set(historical)
    assert {"03241001", "10041100", "05334002", "11001001", "091", "145"} <= with_values
    assert regions.loc["03241001", "level"] == regions.loc["10041100", "level"] == "gemeinde"
    # the names agree too
    table = read_genesis_table(REGIONALSTATISTIK_FILE.read_bytes(), REGIONALSTATISTIK_FILE.name)
    names = {row.cells[1].strip(): " ".join(row.cells[2].split()) for row in table.rows}
    official = regions["official_name"].str.split().str.join(" ")
    assert {key: official[key] for key in names} == names


def test_gemeinde_counts(regions: pd.DataFrame) -> None:
    gemeinden = regions[regions["level"] == "gemeinde"]
    nrw = gemeinden[gemeinden["land_code"] == "05"]
    assert nrw["is_current"].sum() == 396
    # historical NRW keys: Aachen (alt) and the nine Gemeinden of the former Kreis Aachen
    historical = sorted(nrw.index[~nrw["is_current"]])
    assert historical == ["05313000"] + [f"05354{n:03d}" for n in range(4, 40, 4)]
    # since 2026-01-01 Hanau is 06415000, no longer 06435014 (schemas/territory.yaml)
    assert gemeinden["is_current"].sum() == 10787
    assert (~gemeinden["is_current"]).sum() == 2511 + 1


def test_kreis_counts(regions: pd.DataFrame) -> None:
    kreise = regions[regions["level"] == "kreis"]
    # 2024-12-31, table 11111-02-01-4; Hanau kreisfrei since 2026-01-01 (schemas/territory.yaml)
    assert kreise["is_current"].sum() == 400 + 1
    nrw = kreise[(kreise["land_code"] == "05") & kreise["is_current"]]
    assert len(nrw) == 53  # 22 kreisfreie Städte + 31 Kreise (incl. Städteregion Aachen)
    assert sorted(kreise.index[(kreise["land_code"] == "05") & ~kreise["is_current"]]) == [
        "05313",
        "05354",
    ]


@needs_recordings
def test_current_kreise_agree_with_table_11111() -> None:
    (rows, *_) = build_regions.read_ffcsv_tables(
        RECORDINGS / build_regions.KREISE_CASSETTE, "KREISE"
    )
    counted = {r.code for r in rows if len(r.code) == 5 and r.value.isdigit()}
    # Hamburg and Berlin are current but have '-' in "Zahl der Gemeinden"
    frame = load_regions()
    current = frame[(frame["level"] == "kreis") & frame["is_current"]]
    # and Hanau, kreisfrei since 2026-01-01 (schemas/territory.yaml)
    assert set(current["region_code"]) == counted | {"02000", "11000", "06415"}
    per_kreis = (
        frame[(frame["level"] == "gemeinde") & frame["is_current"]].groupby("kreis_code").size()
    )
    nrw_expected = {
        r.code: int(r.value) for r in rows if r.code in counted and r.code.startswith("05")
    }
    assert {k: int(per_kreis[k]) for k in nrw_expected} == nrw_expected


def test_ruhr(regions: pd.DataFrame) -> None:
    municipalities = ruhr_municipalities()
    kreise = ruhr_kreise()
    assert len(municipalities) == 53 and len(set(municipalities)) == 53
    assert len(kreise) == 15
    assert {"05513000", "05562032", "05112000", "05954036", "05978036"} <= set(municipalities)
    assert regions.loc["05513000", "name"] == "Gelsenkirchen"
    assert regions.loc["05562032", "official_name"] == "Recklinghausen, Stadt"
    assert set(kreise) == {
        "05112",
        "05113",
        "05117",
        "05119",
        "05512",
        "05513",
        "05911",
        "05913",
        "05914",
        "05915",
        "05916",
        "05170",
        "05562",
        "05954",
        "05978",
    }
    # every Gemeinde of a Ruhr Kreis is a Ruhr municipality, and only those
    assert {code[:5] for code in municipalities} == set(kreise)
    current = regions[(regions["level"] == "gemeinde") & regions["is_current"]]
    assert set(current.index[current["kreis_code"].isin(kreise)]) == set(municipalities)
    per_kreis = pd.Series([code[:5] for code in municipalities]).value_counts()
    assert per_kreis[["05170", "05562", "05954", "05978"]].tolist() == [13, 10, 9, 10]
    rvr = regions.loc["RVR"]
    assert rvr["name"] == "Ruhrgebiet (Regionalverband Ruhr)"
    assert (rvr["level"], rvr["parent_code"], rvr["in_ruhr"]) == ("verband", "05", True)
    assert regions["in_ruhr"].sum() == 53 + 15 + 1
    assert not regions.loc["05111", "in_ruhr"]  # Düsseldorf


def test_hierarchy(regions: pd.DataFrame) -> None:
    def chain(code: str) -> list[str]:
        out = [code]
        while not pd.isna(regions.loc[out[-1], "parent_code"]):
            out.append(regions.loc[out[-1], "parent_code"])
        return out

    assert chain("05562032") == ["05562032", "05562", "055", "05", "DG"]
    assert chain("05112000") == ["05112000", "05112", "051", "05", "DG"]
    assert chain("09162000") == ["09162000", "09162", "091", "09", "DG"]
    assert chain("14612000") == ["14612000", "14612", "146", "14", "DG"]
    assert chain("15003000") == ["15003000", "15003", "15", "DG"]
    assert chain("11001001") == ["11001001", "11000000", "11000", "11", "DG"]
    assert chain("RVR") == ["RVR", "05", "DG"]
    gemeinden = regions[regions["level"] == "gemeinde"]
    assert (gemeinden["parent_code"] == gemeinden.index.str[:5]).all()
    assert (gemeinden["kreis_code"] == gemeinden.index.str[:5]).all()
    kreise = regions[regions["level"] == "kreis"]
    nrw = kreise["land_code"] == "05"
    assert (kreise.loc[nrw, "parent_code"] == kreise.index[nrw].str[:3]).all()
    no_regions = kreise["land_code"].isin(["01", "02", "04", "10", "11", "12", "13", "16"])
    assert (kreise.loc[no_regions, "parent_code"] == kreise.index[no_regions].str[:2]).all()
    assert set(regions["parent_code"].dropna()) <= set(regions.index)


def test_names(regions: pd.DataFrame) -> None:
    expected = {
        "05112": ("Duisburg", "Duisburg, kreisfreie Stadt"),
        "05112000": ("Duisburg", "Duisburg, kreisfreie Stadt"),
        "05170": ("Kreis Wesel", "Wesel, Kreis"),
        "05170048": ("Wesel", "Wesel, Stadt"),
        "05954": ("Ennepe-Ruhr-Kreis", "Ennepe-Ruhr-Kreis"),
        "05334": ("Städteregion Aachen", "Städteregion Aachen, Kreis"),
        "05334002": ("Aachen", "Aachen, kreisfreie Stadt"),
        "05313": ("Aachen (alt)", "Aachen, Stadt (alt)"),
        "09178": ("Landkreis Freising", "Freising, Landkreis"),
        "03241": ("Region Hannover", "Region Hannover, Landkreis"),
        "10041": ("Regionalverband Saarbrücken", "Saarbrücken, Regionalverband"),
        "08111": ("Stuttgart", "Stuttgart, Stadtkreis"),
    }
    for code, (name, official) in expected.items():
        assert (regions.loc[code, "name"], regions.loc[code, "official_name"]) == (name, official)


@pytest.mark.parametrize(
    ("official", "display"),
    [
        ("Abensberg, St", "Abensberg"),
        ("Korbach, Hansestadt, Kreisstadt", "Korbach"),
        ("Leppin, Altmark", "Leppin, Altmark"),
        ("Rosdorf, Kr Göttingen", "Rosdorf, Kr Göttingen"),
        ("Wismar, Hansestadt,  kreisfreie Stadt", "Wismar"),
        ("Ortenaukreis, Landkreis", "Ortenaukreis"),
        ("Landkreis Demmin", "Landkreis Demmin"),
    ],
)
def test_display_name(official: str, display: str) -> None:
    assert display_name(official) == display


def test_known_region_codes() -> None:
    codes = known_region_codes()
    assert {"DG", "05", "16", "051", "059", "RVR", "05112", "05112000", "05334002"} <= codes
    assert "05354004" not in codes and "05313" not in codes  # historical
    assert {"091", "145", "11001001", "11012012"} <= codes
    assert "141" not in codes and "151" not in codes  # former regions
    # DG, Länder, 3-digit regions, RVR, Kreise, Gemeinden, Berlin's Bezirke
    # (Kreise: Hanau since 2026-01-01)
    assert len(codes) == 1 + 16 + 29 + 1 + 401 + 10787 + 12


# --- the matcher ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "kind"),
    [
        ("      Aachen, krfr. Stadt (ab 21.10.2009)", "aachen", "kreisfrei"),
        ("    Städteregion Aachen (einschl. Stadt Aachen)", "staedteregion aachen", "none"),
        ("Wesel, Kreis", "wesel", "kreis"),
        ("Kreis Wesel", "wesel", "kreis"),
        ("Wesel, Stadt", "wesel", "gemeinde"),
        ("Düsseldorf, Regierungsbezirk", "duesseldorf", "regierungsbezirk"),
        ("MUELHEIM AN DER RUHR,  kreisfreie Stadt", "muelheim an der ruhr", "kreisfrei"),
        ("Langenfeld (Rhld.), Stadt", "langenfeld rhld", "gemeinde"),
        ("Aachen, Stadt (alt)", "aachen alt", "gemeinde"),
        ("Weißenfels", "weissenfels", "none"),
    ],
)
def test_parse_name(name: str, key: str, kind: str) -> None:
    parsed = parse_name(name)
    assert (parsed.key, parsed.kind) == (key, kind)


def test_every_itnrw_name_matches_one_nrw_region(nrw: RegionMatcher, regions) -> None:
    names = itnrw_names()
    assert len(names) == 31176
    # 433 distinct region names; the "449" one gets by counting every line from line 8 also
    # counts the 16 lines of the footer (notes, ©, Stand).
    distinct = list(dict.fromkeys(names))
    assert len(distinct) == 433
    started = time.perf_counter()
    results = nrw.match_indented(names)
    assert time.perf_counter() - started < 5
    failures = {(r.name, r.reason) for r in results if not r.ok}
    assert not failures
    by_name: dict[str, set[str]] = {}
    for name, result in zip(names, results, strict=True):
        by_name.setdefault(name, set()).add(result.code)
    assert all(len(codes) == 1 for codes in by_name.values())
    codes = [next(iter(by_name[name])) for name in distinct]
    assert len(set(codes)) == 433  # one region per name, no two names on one region
    current = regions[regions["is_current"] & (regions["land_code"] == "05")]
    expected = (
        {"05", "051", "053", "055", "057", "059"}
        | set(current.index[current["level"] == "gemeinde"])  # 396, krfr. Städte as Gemeinden
        | {c for c in current.index[current["level"] == "kreis"] if f"{c}000" not in current.index}
    )
    assert set(codes) == expected
    spot = dict(zip(distinct, codes, strict=True))
    assert spot["Nordrhein-Westfalen"] == "05"
    assert spot["  Münster, Regierungsbezirk"] == "055"
    assert spot["    Duisburg, krfr. Stadt"] == "05112000"
    assert spot["    Düsseldorf, krfr. Stadt"] == "05111000"
    assert spot["    Wesel, Kreis"] == "05170"
    assert spot["      Wesel, Stadt"] == "05170048"
    assert spot["    Kleve, Kreis"] == "05154"
    assert spot["      Kleve, Stadt"] == "05154036"
    assert spot["      Bedburg-Hau"] == "05154004"
    assert spot["    Rhein-Kreis Neuss"] == "05162"
    assert spot["    Städteregion Aachen (einschl. Stadt Aachen)"] == "05334"
    assert spot["      Aachen, krfr. Stadt (ab 21.10.2009)"] == "05334002"
    assert spot["      Alsdorf, Stadt (ab 21.10.2009)"] == "05334004"
    assert spot["      Langenfeld (Rhld.), Stadt"] == "05158020"
    assert spot["      Heinsberg, Stadt"] == "05370016"  # 'Heinsberg (Rhld.), Stadt'
    assert spot["    Ennepe-Ruhr-Kreis"] == "05954"
    assert spot["      Wetter (Ruhr), Stadt"] == "05954032"
    assert spot["      Recklinghausen, Stadt"] == "05562032"


def test_regionalstatistik_nrw_rows_agree(regions: pd.DataFrame) -> None:
    rows = regionalstatistik_regions()
    nrw_rows = [(key, name) for key, name in rows if key.startswith("05")]
    assert len(nrw_rows) == 61  # Land, 5 RBs, 53 Kreise, 05334002 Aachen, 05354 (former Kreis)
    for key, name in nrw_rows:
        assert regions.loc[key, "official_name"] == name.strip(), key
    matcher = RegionMatcher("05", kreisfreie_stadt="kreis", include_historical=True)
    results = matcher.match_indented([name for _, name in nrw_rows])
    assert [r.code for r in results] == [key for key, _ in nrw_rows]


def test_match_single_names(nrw: RegionMatcher) -> None:
    assert nrw.match("Kleve, Kreis").code == "05154"
    assert nrw.match("Kleve, Stadt", parent_code="05154").code == "05154036"
    assert nrw.match("Kreis Wesel").code == "05170"
    assert nrw.match("Regierungsbezirk Köln").code == "053"
    assert nrw.match("Muenster, Regierungsbezirk").code == "055"
    assert nrw.match("  gelsenkirchen ").code == "05513000"
    assert nrw.match("STÄDTEREGION AACHEN").code == "05334"
    assert nrw.match("Ruhrgebiet").code == "RVR"
    assert nrw.match("Deutschland").code == "DG"
    germany = RegionMatcher(scope=None)
    assert germany.match("Braunschweig, Statistische Region").code == "031"
    assert germany.match("Statistische Region Braunschweig").code == "031"
    assert germany.match("Oberbayern, Regierungsbezirk").code == "091"
    assert germany.match("Regierungsbezirk Oberbayern").code == "091"
    assert germany.match("Chemnitz, Statistische Region").code == "145"
    former = germany.match("Chemnitz, Regierungsbezirk")
    assert former.code is None and "historical" in former.reason
    kreis = RegionMatcher("05", kreisfreie_stadt="kreis")
    assert kreis.match("Duisburg, kreisfreie Stadt").code == "05112"
    assert nrw.match("Duisburg, kreisfreie Stadt").code == "05112000"


def test_unknown_and_ambiguous_names_give_reasons(nrw: RegionMatcher) -> None:
    unknown = nrw.match("Xyzhausen")
    assert unknown == MatchResult("Xyzhausen", None, "unknown region name 'Xyzhausen'")
    assert not unknown

    outside = nrw.match("Kiel")
    assert outside.code is None and "'Kiel'" in outside.reason and "scope 05" in outside.reason

    ambiguous = nrw.match("Kleve")  # the Kreis or the Stadt?
    assert ambiguous.code is None
    assert ambiguous.reason.startswith("ambiguous: 'Kleve' matches 2 regions")
    assert ambiguous.candidates == ("05154", "05154036")

    germany = RegionMatcher(scope=None)
    neuenkirchen = germany.match("Neuenkirchen")
    assert neuenkirchen.code is None and len(neuenkirchen.candidates) == 11
    assert "'Neuenkirchen' matches 11 regions" in neuenkirchen.reason
    assert "Land scope" in neuenkirchen.reason
    assert RegionMatcher("05").match("Neuenkirchen").code == "05566060"

    wrong_parent = nrw.match("Kleve, Stadt", parent_code="05158")
    assert wrong_parent.code is None and "below 05158" in wrong_parent.reason

    wrong_level = nrw.match("Kleve, Regierungsbezirk")
    assert wrong_level.code is None and "no Regierungsbezirk named" in wrong_level.reason

    historical = nrw.match("Aachen, Kreis")
    assert historical.code is None and "historical" in historical.reason
    assert RegionMatcher(include_historical=True).match("Aachen, Kreis").code == "05354"

    assert nrw.match("   ").reason == "empty region name"


def test_indented_children_of_unmatched_parent_use_next_ancestor(nrw: RegionMatcher) -> None:
    results = nrw.match_indented(
        ["Nordrhein-Westfalen", "  Nirgendwo, Kreis", "    Kleve, Stadt", "  Wesel, Kreis"]
    )
    assert [r.code for r in results] == ["05", None, "05154036", "05170"]


def test_match_region_names_for_staging() -> None:
    cells = [
        "Nordrhein-Westfalen",
        "  Düsseldorf, Regierungsbezirk",
        "    Duisburg, krfr. Stadt",
        "    Atlantis, Kreis",
    ]
    assert match_region_names(cells, "05") == [
        ("05", None),
        ("051", None),
        ("05112000", None),
        (None, "unknown region name 'Atlantis, Kreis'"),
    ]
    assert match_region_names(["  Schleswig-Holstein"], "DG") == [("01", None)]


# --- the build -----------------------------------------------------------------------------


@needs_recordings
def test_build_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    report = build_regions.build(RECORDINGS, first)
    build_regions.build(RECORDINGS, second)
    assert first.read_bytes() == second.read_bytes() == REGIONS_CSV.read_bytes()
    assert (report.gemeinden_current, report.gemeinden_historical) == (10787, 2511)
    assert (report.kreise_current, report.kreise_historical) == (400, 74)
    assert len(report.regierungsbezirke_current) == 29
    assert report.regierungsbezirke_historical == ["141", "142", "143", "151", "152", "153"]
    assert len(report.berlin_bezirke) == 12
    assert (report.table_keys, len(report.table_keys_historical)) == (538, 79)
    assert not [m for m in report.count_mismatches if m[0].startswith("05")]
