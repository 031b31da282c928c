"""The SYNTHETIC demo deliveries: reproducible byte for byte, in the partners' formats, and
calibrated to the targets documented in sources/demo/README.md."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import pandas as pd
import pytest

from sources.demo import generate as gen

DELIVERIES = gen.DELIVERIES
OFFICIAL = gen.OFFICIAL
REPO = gen.REPO

LEAVERS = DELIVERIES / gen.FILE_LEAVERS
KITA = DELIVERIES / gen.FILE_KITA
KITA_FIX = DELIVERIES / gen.FILE_KITA_FIX
POPULATION = DELIVERIES / gen.FILE_POP
TUTORING = DELIVERIES / gen.FILE_TUTORING
ALL_FILES = (LEAVERS, KITA, KITA_FIX, POPULATION, TUTORING)

GELSENKIRCHEN, DUISBURG = "05513000", "05112000"
COUNT_COLUMNS = [
    "Abgänger/-innen insgesamt",
    "ohne Hauptschulabschluss",
    "mit Hauptschulabschluss",
    "mit mittlerem Schulabschluss",
    "mit Fachhochschulreife",
    "mit allgemeiner Hochschulreife",
]
SHARE = "Anteil ohne Hauptschulabschluss in %"
U3 = "Kinder unter 3 Jahren in Tagesbetreuung"
O3 = "Kinder von 3 bis unter 6 Jahren in Tagesbetreuung"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return gen.generate(tmp_path_factory.mktemp("deliveries"))


@pytest.fixture(scope="module")
def regions() -> pd.DataFrame:
    return pd.read_csv(REPO / "schemas" / "regions.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def gemeinden(regions: pd.DataFrame) -> pd.DataFrame:
    """The current NRW Gemeinden, indexed by AGS."""
    is_gem = (regions["level"] == "gemeinde") & (regions["land_code"] == "05")
    return regions[is_gem & (regions["is_current"] == "true")].set_index("region_code")


@pytest.fixture(scope="module")
def ruhr(gemeinden: pd.DataFrame) -> set[str]:
    return set(gemeinden.index[gemeinden["in_ruhr"] == "true"])


@pytest.fixture(scope="module")
def leavers() -> pd.DataFrame:
    return pd.read_csv(LEAVERS, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def leaver_totals(leavers: pd.DataFrame) -> pd.DataFrame:
    """The Gemeinde-year totals (insgesamt × insgesamt) as integers."""
    total = leavers[
        (leavers["Geschlecht"] == "insgesamt") & (leavers["Staatsangehörigkeit"] == "insgesamt")
    ].copy()
    total[COUNT_COLUMNS] = total[COUNT_COLUMNS].astype(int)
    return total


def _read_kita(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    frame["year"] = frame["Stichtag"].str[-4:].astype(int)
    for column, short in ((U3, "u3"), (O3, "o3")):
        frame[f"{short}_flag"] = frame[column].str.endswith(" p")
        frame[short] = frame[column].str.removesuffix(" p").astype(int)
    return frame


@pytest.fixture(scope="module")
def kita() -> pd.DataFrame:
    return _read_kita(KITA)


@pytest.fixture(scope="module")
def kita_fix() -> pd.DataFrame:
    return _read_kita(KITA_FIX)


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return pd.read_csv(POPULATION, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def care_vs_population(kita: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Day care on 1 March Y next to the population of 31 December Y-1 (same school year)."""
    pop = population.assign(
        year=population["time"].str[:4].astype(int) + 1, value=population["value"].astype(int)
    ).pivot_table(
        index=["year", "1_variable_attribute_code"],
        columns="2_variable_attribute_code",
        values="value",
    )
    pop = pop.rename(columns={"ALT000B03": "pop_u3", "ALT003B06": "pop_o3"}).reset_index()
    merged = kita.merge(
        pop,
        left_on=["year", "Gemeindeschlüssel"],
        right_on=["year", "1_variable_attribute_code"],
        how="left",
        validate="one_to_one",
    )
    assert merged["pop_u3"].notna().all()
    return merged


@pytest.fixture(scope="module")
def tutoring() -> pd.DataFrame:
    return pd.read_csv(TUTORING, dtype=str, keep_default_na=False)


def _rate(frame: pd.DataFrame, numerator: str, denominator: str) -> float:
    return 100 * frame[numerator].sum() / frame[denominator].sum()


# --- reproducibility and formats ---------------------------------------------------------------


def test_generator_reproduces_committed_files(generated: list[Path]) -> None:
    assert [p.name for p in generated] == [p.name for p in ALL_FILES]
    for new, committed in zip(generated, ALL_FILES, strict=True):
        assert new.relative_to(new.parents[1]) == committed.relative_to(DELIVERIES)
        assert new.read_bytes() == committed.read_bytes(), f"{committed.name} differs"


def test_every_delivery_is_marked_synthetic() -> None:
    files = sorted(p for p in DELIVERIES.rglob("*") if p.is_file())
    assert files == sorted(ALL_FILES)
    assert all(p.name.startswith("SYNTHETISCH_") for p in files)


def test_leavers_format() -> None:
    raw = LEAVERS.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    header = raw.split(b"\r\n", 1)[0].decode("cp1252")
    assert header == (
        "Schuljahr;Gemeindeschlüssel;Gemeinde;Geschlecht;Staatsangehörigkeit;"
        "Abgänger/-innen insgesamt;ohne Hauptschulabschluss;mit Hauptschulabschluss;"
        "mit mittlerem Schulabschluss;mit Fachhochschulreife;mit allgemeiner Hochschulreife;"
        "Anteil ohne Hauptschulabschluss in %"
    )
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n")  # CRLF only
    raw.decode("cp1252")  # strict


@pytest.mark.parametrize("path", [KITA, KITA_FIX])
def test_kita_format(path: Path) -> None:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in raw and raw.endswith(b"\n")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == f"Stichtag;Gemeindeschlüssel;Gemeindename;{U3};{O3}"
    assert all(line.split(";")[0][:6] == "01.03." for line in lines[1:])


def test_population_format(population: pd.DataFrame, gemeinden: pd.DataFrame) -> None:
    raw = POPULATION.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw and raw.endswith(b"\n")
    assert raw.decode("utf-8-sig").split("\n", 1)[0] == (
        "statistics_code;statistics_label;time_code;time_label;time;1_variable_code;"
        "1_variable_label;1_variable_attribute_code;1_variable_attribute_label;2_variable_code;"
        "2_variable_label;2_variable_attribute_code;2_variable_attribute_label;value;value_unit;"
        "value_variable_code;value_variable_label"
    )
    constant = {
        "statistics_code": "12411",
        "statistics_label": "Fortschreibung des Bevölkerungsstandes",
        "time_code": "STAG",
        "time_label": "Stichtag",
        "1_variable_code": "GEMEIN",
        "1_variable_label": "Gemeinden",
        "2_variable_code": "ALTX20",
        "2_variable_label": "Altersgruppen (unter 3 bis 75 u. m.)",
        "value_unit": "Anzahl",
        "value_variable_code": "BEVSTD",
        "value_variable_label": "Bevölkerungsstand",
    }
    for column, value in constant.items():
        assert set(population[column]) == {value}, column
    assert sorted(set(population["time"])) == [f"{y}-12-31" for y in range(2012, 2024)]
    codes, labels = (
        population["2_variable_attribute_code"],
        population["2_variable_attribute_label"],
    )
    ages = set(zip(codes, labels, strict=True))
    assert ages == {("ALT000B03", "unter 3 Jahre"), ("ALT003B06", "3 bis unter 6 Jahre")}
    assert population["value"].str.fullmatch(r"\d+").all()
    names = population["1_variable_attribute_code"].map(gemeinden["official_name"])
    assert (names == population["1_variable_attribute_label"]).all()
    assert {"Duisburg, kreisfreie Stadt", "Wesel, Stadt"} <= set(names)
    assert len(population) == 12 * 396 * 2


def test_tutoring_format(tutoring: pd.DataFrame) -> None:
    raw = TUTORING.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
    assert raw.decode("utf-8").split("\n", 1)[0] == (
        "schulnummer,schuljahr,schulname,teilnehmende_schueler,foerderstunden"
    )
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert all(len(row) == 5 for row in rows)
    assert b'"' in raw  # school names with commas are quoted
    assert tutoring["schuljahr"].str.fullmatch(r"20\d\d/\d\d").all()
    assert tutoring["schulnummer"].str.fullmatch(r"\d{6}").all()
    assert tutoring["foerderstunden"].str.fullmatch(r"\d+\.\d").all()
    assert not tutoring.duplicated(["schulnummer", "schuljahr"]).any()


# --- regions -----------------------------------------------------------------------------------


def test_every_key_is_a_current_nrw_gemeinde(
    leavers: pd.DataFrame,
    kita: pd.DataFrame,
    kita_fix: pd.DataFrame,
    population: pd.DataFrame,
    gemeinden: pd.DataFrame,
) -> None:
    current = set(gemeinden.index)
    assert len(current) == 396
    assert set(leavers["Gemeindeschlüssel"]) == current
    assert set(kita["Gemeindeschlüssel"]) == current
    assert set(population["1_variable_attribute_code"]) == current
    assert set(kita_fix["Gemeindeschlüssel"]) <= current
    assert len(leavers) == 12 * 396 * 9
    assert len(kita) == 12 * 396
    assert (leavers.groupby("Schuljahr").size() == 396 * 9).all()
    assert (kita.groupby("year").size() == 396).all()


# --- A: school leavers -------------------------------------------------------------------------


def test_leavers_are_additive(leavers: pd.DataFrame) -> None:
    keys = ["Schuljahr", "Gemeindeschlüssel"]
    cells = leavers.set_index([*keys, "Geschlecht", "Staatsangehörigkeit"])[COUNT_COLUMNS]
    suppressed = cells.eq(".")
    # a row is either fully suppressed or fully numeric
    assert suppressed.all(axis=1).eq(suppressed.any(axis=1)).all()
    values = cells.mask(suppressed).astype(float)
    numeric = values.dropna()
    assert (numeric.iloc[:, 1:].sum(axis=1) == numeric.iloc[:, 0]).all()
    wide = values.unstack(["Geschlecht", "Staatsangehörigkeit"])
    for column in COUNT_COLUMNS:
        w = wide[column]
        for nat in ("insgesamt", "deutsch", "ausländisch"):
            total, parts = w[("insgesamt", nat)], w[("weiblich", nat)] + w[("männlich", nat)]
            assert total[parts.notna()].eq(parts.dropna()).all(), (column, nat)
        for sex in ("insgesamt", "weiblich", "männlich"):
            total, parts = w[(sex, "insgesamt")], w[(sex, "deutsch")] + w[(sex, "ausländisch")]
            assert total[parts.notna()].eq(parts.dropna()).all(), (column, sex)
        assert w[("insgesamt", "insgesamt")].notna().all()


def test_leavers_share_and_suppression(leavers: pd.DataFrame) -> None:
    numeric = leavers[leavers["Abgänger/-innen insgesamt"] != "."]
    total = numeric["Abgänger/-innen insgesamt"].astype(int)
    ohne = numeric["ohne Hauptschulabschluss"].astype(int)
    expected = [
        "x" if t == 0 else f"{(2000 * o + t) // (2 * t) // 10},{(2000 * o + t) // (2 * t) % 10}"
        for o, t in zip(ohne, total, strict=True)
    ]
    assert numeric[SHARE].tolist() == expected
    assert numeric[SHARE].str.fullmatch(r"\d+,\d|x").all()

    suppressed = leavers[leavers["Abgänger/-innen insgesamt"] == "."]
    assert len(suppressed) > 0
    assert set(suppressed["Staatsangehörigkeit"]) == {"ausländisch"}
    assert set(suppressed["Geschlecht"]) == {"weiblich", "männlich"}
    assert (suppressed[SHARE] == ".").all()
    foreign = (
        leavers[
            (leavers["Geschlecht"] == "insgesamt")
            & (leavers["Staatsangehörigkeit"] == "ausländisch")
        ]
        .set_index(["Schuljahr", "Gemeindeschlüssel"])["Abgänger/-innen insgesamt"]
        .astype(int)
    )
    small = set(foreign.index[foreign < 5])
    marked = set(zip(suppressed["Schuljahr"], suppressed["Gemeindeschlüssel"], strict=True))
    assert marked == small
    assert (suppressed.groupby(["Schuljahr", "Gemeindeschlüssel"]).size() == 2).all()


def test_leaver_totals_are_the_real_it_nrw_totals(leaver_totals: pd.DataFrame) -> None:
    nrw = leaver_totals.groupby("Schuljahr")["Abgänger/-innen insgesamt"].sum()
    # IT.NRW 21111-9k21, sum over the municipalities (rounded to 5 from 2019/20)
    assert nrw["2012/13"] == 255249  # the double Abitur cohort
    assert nrw["2013/14"] == 211083
    assert 170_000 < nrw["2023/24"] < 195_000


def test_leavers_dropout_calibration(leaver_totals: pd.DataFrame, ruhr: set[str]) -> None:
    ohne, total = "ohne Hauptschulabschluss", "Abgänger/-innen insgesamt"
    by_year = leaver_totals.groupby("Schuljahr")
    nrw = by_year.apply(lambda d: _rate(d, ohne, total))
    assert nrw.between(5.5, 7.5).all(), nrw
    assert 6.0 <= nrw["2023/24"] <= 7.5
    assert nrw["2023/24"] > nrw["2012/13"] + 0.5  # slowly rising
    in_ruhr = leaver_totals[leaver_totals["Gemeindeschlüssel"].isin(ruhr)]
    ruhr_rate = in_ruhr.groupby("Schuljahr").apply(lambda d: _rate(d, ohne, total))
    assert (ruhr_rate > nrw + 0.8).all(), ruhr_rate  # clearly higher
    ge = leaver_totals[leaver_totals["Gemeindeschlüssel"] == GELSENKIRCHEN].set_index("Schuljahr")
    ge_rate = 100 * ge[ohne] / ge[total]
    assert 11.5 <= ge_rate["2022/23"] <= 14.5
    assert 11.5 <= ge_rate["2023/24"] <= 14.5


def test_leavers_abitur_calibration(leaver_totals: pd.DataFrame, ruhr: set[str]) -> None:
    ahr, total = "mit allgemeiner Hochschulreife", "Abgänger/-innen insgesamt"
    nrw = leaver_totals.groupby("Schuljahr").apply(lambda d: _rate(d, ahr, total))
    assert nrw.drop("2012/13").between(35, 40).all(), nrw
    assert nrw["2012/13"] > 42  # the double Abitur cohort (G8 and G9)
    # lower where schools are disadvantaged (high Sozialindexstufe)
    schools = pd.read_csv(io.StringIO(_text_without_sep_line()), sep=";", dtype=str)
    index = pd.read_csv(
        OFFICIAL / "nrw_schulsozialindex_sj_25_26.csv", sep=";", dtype=str, encoding="cp850"
    )
    joined = schools.merge(index, on="Schulnummer")
    stufe = pd.to_numeric(joined["Sozialindexstufe"], errors="coerce")
    mean_index = stufe.groupby(joined["Gemeindeschluessel"]).mean()
    recent = leaver_totals[leaver_totals["Schuljahr"] == "2023/24"].copy()
    recent["index"] = recent["Gemeindeschlüssel"].map(mean_index)
    high = recent[recent["index"] >= 5]
    low = recent[recent["index"] < 3]
    assert _rate(high, ahr, total) < _rate(low, ahr, total) - 5
    ge = recent[recent["Gemeindeschlüssel"] == GELSENKIRCHEN]
    assert _rate(ge, ahr, total) < nrw["2023/24"] - 5
    in_ruhr = recent[recent["Gemeindeschlüssel"].isin(ruhr)]
    assert _rate(in_ruhr, ahr, total) < nrw["2023/24"]


def _text_without_sep_line() -> str:
    text = (OFFICIAL / "nrw_schuldaten_2021.csv").read_text(encoding="utf-8")
    return text.split("\n", 1)[1]


def test_leavers_subgroup_ratios(leavers: pd.DataFrame) -> None:
    def rate(sex: str, nat: str) -> float:
        rows = leavers[(leavers["Geschlecht"] == sex) & (leavers["Staatsangehörigkeit"] == nat)]
        ohne = rows["ohne Hauptschulabschluss"].astype(int).sum()
        return ohne / rows["Abgänger/-innen insgesamt"].astype(int).sum()

    assert 2.0 <= rate("insgesamt", "ausländisch") / rate("insgesamt", "deutsch") <= 2.5
    assert 1.4 <= rate("männlich", "insgesamt") / rate("weiblich", "insgesamt") <= 1.6
    everyone = leavers[
        (leavers["Geschlecht"] == "insgesamt") & (leavers["Staatsangehörigkeit"] == "insgesamt")
    ]
    female = leavers[
        (leavers["Geschlecht"] == "weiblich") & (leavers["Staatsangehörigkeit"] == "insgesamt")
    ]
    share = (
        female["Abgänger/-innen insgesamt"].astype(int).sum()
        / everyone["Abgänger/-innen insgesamt"].astype(int).sum()
    )
    assert 0.47 <= share <= 0.51


# --- B and C: day care and population ----------------------------------------------------------


def test_daycare_never_exceeds_population(
    care_vs_population: pd.DataFrame, kita_fix: pd.DataFrame, population: pd.DataFrame
) -> None:
    m = care_vs_population
    assert (m["u3"] <= m["pop_u3"]).all()
    assert (m["o3"] <= m["pop_o3"]).all()
    pop_2023 = population[population["time"] == "2023-12-31"].pivot(
        index="1_variable_attribute_code", columns="2_variable_attribute_code", values="value"
    )
    fixed = kita_fix.set_index("Gemeindeschlüssel")
    assert (fixed["u3"] <= pop_2023.loc[fixed.index, "ALT000B03"].astype(int)).all()
    assert (fixed["o3"] <= pop_2023.loc[fixed.index, "ALT003B06"].astype(int)).all()


def test_daycare_calibration(care_vs_population: pd.DataFrame, ruhr: set[str]) -> None:
    m = care_vs_population
    by_year = m.groupby("year")
    u3 = by_year.apply(lambda d: _rate(d, "u3", "pop_u3"))
    o3 = by_year.apply(lambda d: _rate(d, "o3", "pop_o3"))
    assert 18 <= u3[2013] <= 22 and 28 <= u3[2024] <= 32, u3
    assert u3[2024] > u3[2018] > u3[2013]
    assert o3.between(88, 93).all(), o3
    ge = m[m["Gemeindeschlüssel"] == GELSENKIRCHEN].set_index("year")
    du = m[m["Gemeindeschlüssel"] == DUISBURG].set_index("year")
    assert 19 <= 100 * ge.at[2023, "u3"] / ge.at[2023, "pop_u3"] <= 21
    assert 20 <= 100 * du.at[2023, "u3"] / du.at[2023, "pop_u3"] <= 22.5
    assert 83 <= 100 * ge.at[2023, "o3"] / ge.at[2023, "pop_o3"] <= 86
    in_ruhr = m[m["Gemeindeschlüssel"].isin(ruhr)].groupby("year")
    assert (in_ruhr.apply(lambda d: _rate(d, "u3", "pop_u3")) < u3).all()


def test_population_follows_the_birth_trend(population: pd.DataFrame) -> None:
    pop = population.assign(value=population["value"].astype(int))
    nrw = pop.groupby(["time", "2_variable_attribute_code"])["value"].sum().unstack()
    u3 = nrw["ALT000B03"]
    assert u3["2016-12-31"] > 1.05 * u3["2012-12-31"]  # cohorts growing to 2016 …
    assert u3["2023-12-31"] < u3["2021-12-31"]  # … and falling after 2021
    assert 450_000 < u3["2023-12-31"] < 600_000


def test_provisional_2024_and_its_correction(
    kita: pd.DataFrame, kita_fix: pd.DataFrame, ruhr: set[str]
) -> None:
    latest = kita["year"] == 2024
    assert kita.loc[latest, ["u3_flag", "o3_flag"]].all().all()
    assert not kita.loc[~latest, ["u3_flag", "o3_flag"]].any().any()
    assert len(kita_fix) == 6 and (kita_fix["year"] == 2024).all()
    assert not kita_fix[["u3_flag", "o3_flag"]].any().any()
    assert kita_fix["Gemeindeschlüssel"].isin(ruhr).sum() == 3
    provisional = kita[latest].set_index("Gemeindeschlüssel")
    for row in kita_fix.itertuples():
        for column in ("u3", "o3"):
            before, after = provisional.at[row.Gemeindeschlüssel, column], getattr(row, column)
            assert after != before
            assert abs(after - before) / before <= 0.05


# --- D: tutoring programme ---------------------------------------------------------------------


def test_tutoring_schools_are_real_disadvantaged_ruhr_schools(
    tutoring: pd.DataFrame, ruhr: set[str]
) -> None:
    schools = pd.read_csv(io.StringIO(_text_without_sep_line()), sep=";", dtype=str)
    index = pd.read_csv(
        OFFICIAL / "nrw_schulsozialindex_sj_25_26.csv", sep=";", dtype=str, encoding="cp850"
    )
    directory = schools.set_index("Schulnummer")
    stufe = pd.to_numeric(index.set_index("Schulnummer")["Sozialindexstufe"], errors="coerce")
    numbers = tutoring["schulnummer"]
    assert numbers.isin(directory.index).all()
    assert directory.loc[numbers, "Gemeindeschluessel"].isin(ruhr).all()
    assert directory.loc[numbers, "Schulform"].isin(["02", "04", "10", "14", "15"]).all()
    assert (stufe.reindex(numbers) >= 6).all()
    names = directory.loc[numbers, "Kurzbezeichnung"].to_numpy()
    assert (tutoring["schulname"].to_numpy() == names).all()


def test_tutoring_programme_growth(tutoring: pd.DataFrame) -> None:
    per_year = tutoring.groupby("schuljahr")["schulnummer"].nunique()
    assert per_year.index[0] == "2016/17"
    assert 15 <= per_year["2016/17"] <= 20
    assert 200 <= per_year["2023/24"] <= 240
    assert per_year.loc[:"2023/24"].is_monotonic_increasing
    pupils = tutoring["teilnehmende_schueler"].astype(int)
    assert pupils.between(10, 60).all()
    assert (tutoring["foerderstunden"].astype(float) > 0).all()
    # once in, a school stays in; a few drop out and never come back
    years = sorted(per_year.index)
    members = {y: set(tutoring.loc[tutoring["schuljahr"] == y, "schulnummer"]) for y in years}
    dropped: set[str] = set()
    for before, after in itertools.pairwise(years):
        left = members[before] - members[after]
        assert len(left) <= 0.1 * len(members[before]) + 1
        assert not (members[after] & dropped)
        dropped |= left
    assert len(dropped) > 0
