"""Generate the SYNTHETIC partner deliveries of the demo (deterministic, committed output).

    .venv/bin/python -m sources.demo.generate            # writes sources/demo/deliveries/
    .venv/bin/python -m sources.demo.generate OUT_DIR    # writes elsewhere (tests)

Every value in the files written here is invented. The *scale* and the *cross-section* come
from real, committed official data (sources/demo/official/, see README.md there and in this
folder): leaver totals and Grundschule pupils per municipality (IT.NRW 21111-9k21), foreign
pupil shares per Kreis (Regionalstatistik 21111-01-03-4), the school directory and the school
social index (Ministry of Schools NRW), region keys and names (schemas/regions.csv).

Determinism: one fixed seed, one independent random stream per delivery, every loop over
sorted keys, no clock, no hashing of strings; rerunning gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from schemas.regions import RegionMatcher, load_regions

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OFFICIAL = HERE / "official"
DELIVERIES = HERE / "deliveries"

SEED = 20240301

# The 11 kreisfreie Städte of the Ruhr and the 4 Kreise whose Gemeinden all belong to it.
RUHR_CITIES = (
    "05112000",
    "05113000",
    "05117000",
    "05119000",
    "05512000",
    "05513000",
    "05911000",
    "05913000",
    "05914000",
    "05915000",
    "05916000",
)
RUHR_KREISE = ("05170", "05562", "05954", "05978")
GELSENKIRCHEN = "05513000"
DUISBURG = "05112000"

LEAVER_YEARS = tuple(range(2012, 2024))  # school years 2012/13 … 2023/24 (start years)
KITA_YEARS = tuple(range(2013, 2025))  # Stichtag 1 March 2013 … 2024
POP_YEARS = tuple(range(2012, 2024))  # 31 December 2012 … 2023
TUTORING_YEARS = tuple(range(2016, 2025))  # school years 2016/17 … 2024/25

FILE_LEAVERS = "schulabgaenger/SYNTHETISCH_schulabgaenger_abschlussart_nrw_2012-2023.csv"
FILE_KITA = "kita_betreuung/SYNTHETISCH_kindertagesbetreuung_nrw_2013-2024.csv"
FILE_KITA_FIX = "kita_betreuung/SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv"
FILE_POP = "bevoelkerung_kinder/SYNTHETISCH_12411_bevoelkerung_altersgruppen_gemeinden_nrw.csv"
FILE_TUTORING = "lernfoerderung/SYNTHETISCH_lernfoerderung_schulen_2016-2024.csv"


def school_year(start: int) -> str:
    return f"{start}/{(start + 1) % 100:02d}"


# ---------------------------------------------------------------------------------------------
# Real inputs
# ---------------------------------------------------------------------------------------------


def load_municipalities() -> pd.DataFrame:
    """The current NRW Gemeinden of schemas/regions.csv, sorted by AGS."""
    regions = load_regions()
    gem = regions[
        regions["is_current"] & (regions["level"] == "gemeinde") & (regions["land_code"] == "05")
    ]
    gem = gem[["region_code", "name", "official_name", "kreis_code", "in_ruhr"]].rename(
        columns={"region_code": "ags"}
    )
    gem = gem.sort_values("ags").reset_index(drop=True)
    expected = gem["ags"].isin(RUHR_CITIES) | gem["ags"].str[:5].isin(RUHR_KREISE)
    if not (gem["in_ruhr"] == expected).all() or int(expected.sum()) != 53:
        raise ValueError("schemas/regions.csv: in_ruhr does not mark the 53 Ruhr municipalities")
    return gem


FORMS_9K21 = (
    "insgesamt",
    "grundschulen",
    "hauptschulen",
    "volksschulen",
    "foerder_gh",
    "foerder_rg",
    "realschulen",
    "primus",
    "sekundarschulen",
    "gesamtschulen",
    "gemeinschaftsschulen",
    "waldorf",
    "gymnasien",
    "weiterbildungskollegs",
)


def _number(cell: str) -> float:
    cell = cell.strip()
    if cell in ("-", ""):
        return 0.0
    if cell in (".", "x", "/", "..."):
        return math.nan
    return float(cell)


def read_9k21() -> pd.DataFrame:
    """IT.NRW 21111-9k21: one row per region line × school year × variable, values by form.

    Columns: label (as written, indented), start (school year start), variable, then FORMS_9K21.
    """
    text = (OFFICIAL / "itnrw_21111-9k21_kommunalprofil_schulen.csv").read_bytes().decode("cp1252")
    records = []
    for line in text.splitlines()[7:]:
        if line.startswith("__________"):
            break
        cells = line.split(";")
        values = [_number(c) for c in cells[5:19]]
        records.append([cells[0], int(cells[1][:4]), cells[2], *values])
    return pd.DataFrame(records, columns=["label", "start", "variable", *FORMS_9K21])


def label_to_ags(labels: list[str], gem: pd.DataFrame) -> dict[str, str]:
    """Indented IT.NRW region labels (distinct, in file order) -> AGS of current Gemeinden."""
    results = RegionMatcher(scope="05").match_indented(labels)
    wanted = set(gem["ags"])
    return {
        label: result.code
        for label, result in zip(labels, results, strict=True)
        if result.code in wanted
    }


def read_schools() -> pd.DataFrame:
    """School directory (2021) joined with the social index (2025/26) by Schulnummer.

    Columns: schulnummer, schulform, ags, kurzbezeichnung, opened / last_year (first and last
    school year in operation, start years), sozialindex (float, NaN = none).
    """
    text = (OFFICIAL / "nrw_schuldaten_2021.csv").read_bytes().decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "sep=;", lines[0]
    directory = pd.read_csv(io.StringIO("\n".join(lines[1:])), sep=";", dtype=str)
    directory = directory[
        [
            "Schulnummer",
            "Schulform",
            "Gemeindeschluessel",
            "Kurzbezeichnung",
            "Schulbetriebsschluessel",
            "Schulbetriebsdatum",
        ]
    ]
    directory.columns = ["schulnummer", "schulform", "ags", "kurzbezeichnung", "state", "date"]
    # Schulbetriebsschlüssel 1: in operation since the date; 2: closing at the date.
    date = pd.to_datetime(directory["date"], format="%d.%m.%Y", errors="coerce")
    start = (date.dt.year + (date.dt.month >= 9).astype(int)).fillna(1900).astype(int)
    directory["opened"] = np.where(directory["state"] == "1", start, 1900)
    directory["last_year"] = np.where(directory["state"] == "2", start - 1, 9999)
    directory = directory.drop(columns=["state", "date"])
    index = pd.read_csv(
        OFFICIAL / "nrw_schulsozialindex_sj_25_26.csv", sep=";", dtype=str, encoding="cp850"
    )
    index = index[["Schulnummer", "Sozialindexstufe"]]
    index.columns = ["schulnummer", "stufe"]
    index["sozialindex"] = pd.to_numeric(index["stufe"], errors="coerce")
    schools = directory.merge(index[["schulnummer", "sozialindex"]], on="schulnummer", how="left")
    return schools.sort_values("schulnummer").reset_index(drop=True)


def read_foreign_pupil_share() -> dict[str, float]:
    """Regionalstatistik 21111-01-03-4 (2023/24): foreign / all pupils, school type Insgesamt,
    per NRW Kreis or kreisfreie Stadt (5-digit key)."""
    text = (OFFICIAL / "regionalstatistik_21111-01-03-4.csv").read_bytes().decode("cp1252")
    shares: dict[str, float] = {}
    for line in text.splitlines():
        cells = line.split(";")
        if len(cells) < 10 or not re.fullmatch(r"05\d{3}", cells[1]):
            continue
        if cells[3] != "Insgesamt":
            continue
        total, foreign = _number(cells[5]), _number(cells[7])
        if total > 0 and not math.isnan(foreign):
            shares[cells[1]] = foreign / total
    return shares


# ---------------------------------------------------------------------------------------------
# The municipalities: real scale and cross-section
# ---------------------------------------------------------------------------------------------

# German live births (thousands, Destatis 12612, rounded): the birth trend of the cohorts.
BIRTHS_DE = {
    2005: 686,
    2006: 673,
    2007: 685,
    2008: 683,
    2009: 665,
    2010: 678,
    2011: 663,
    2012: 674,
    2013: 682,
    2014: 715,
    2015: 738,
    2016: 792,
    2017: 785,
    2018: 788,
    2019: 778,
    2020: 773,
    2021: 796,
    2022: 739,
    2023: 693,
}


@dataclass
class Municipalities:
    """Everything the models need per current NRW Gemeinde (arrays aligned with `frame`)."""

    frame: pd.DataFrame  # ags, name, official_name, kreis_code, in_ruhr, si, foreign_share
    z: np.ndarray  # mean Sozialindexstufe of its schools minus the NRW school mean
    leavers: np.ndarray  # [G, len(LEAVER_YEARS)] leaver totals (real, then extrapolated)
    double_cohort: np.ndarray  # [G] extra Gymnasium leavers of 2012/13 (G8 + G9 Abitur)
    upper: np.ndarray  # [G] logit of the real share of leavers from schools with an Oberstufe
    grundschule: pd.DataFrame  # Grundschule pupils, index ags, columns school-year start

    def index(self, ags: str) -> int:
        return int(np.flatnonzero(self.frame["ags"].to_numpy() == ags)[0])


def build_municipalities(rng: np.random.Generator) -> Municipalities:
    gem = load_municipalities()
    k9 = read_9k21()
    mapping = label_to_ags(list(dict.fromkeys(k9["label"])), gem)
    missing = sorted(set(gem["ags"]) - set(mapping.values()))
    if missing:
        raise ValueError(f"no IT.NRW 21111-9k21 row for Gemeinden {missing}")
    k9 = k9[k9["label"].isin(mapping)].assign(ags=lambda d: d["label"].map(mapping))

    # Social index: mean Sozialindexstufe of the schools located in the Gemeinde; a Gemeinde
    # without an indexed school gets the mean of its Kreis.
    schools = read_schools()
    schools = schools[schools["sozialindex"].notna()]
    nrw_mean = float(schools["sozialindex"].mean())
    by_gem = schools.groupby("ags")["sozialindex"].mean()
    by_kreis = schools.assign(kreis=schools["ags"].str[:5]).groupby("kreis")["sozialindex"].mean()
    si = np.array(
        [
            by_gem.get(a, by_kreis.get(k, nrw_mean))
            for a, k in zip(gem["ags"], gem["kreis_code"], strict=True)
        ]
    )
    z = si - nrw_mean

    # Leaver totals: real 2012/13 … 2021/22, then the municipality's recent trend.
    abg = k9[k9["variable"] == "Schulabgänger/-innen"]
    total = abg.pivot(index="ags", columns="start", values="insgesamt").reindex(gem["ags"])
    gym = abg.pivot(index="ags", columns="start", values="gymnasien").reindex(gem["ags"])
    real_years = [y for y in LEAVER_YEARS if y in total.columns]
    leavers = np.zeros((len(gem), len(LEAVER_YEARS)))
    leavers[:, : len(real_years)] = total[real_years].fillna(0).to_numpy()
    recent = total[[2017, 2018, 2019, 2020, 2021]].to_numpy()
    x = np.arange(5) - 2.0
    slope = (np.log(np.maximum(recent, 1.0)) * x).sum(axis=1) / (x * x).sum()
    slope = np.clip(0.6 * slope, -0.04, 0.04)
    for j in range(len(real_years), len(LEAVER_YEARS)):
        noise = rng.normal(0.0, 0.02, len(gem))
        leavers[:, j] = np.round(leavers[:, j - 1] * np.exp(slope + noise))
    double = (gym[2012] - (gym[2011] + gym[2013]) / 2).clip(lower=0).fillna(0).to_numpy()
    double = np.minimum(np.round(double), 0.6 * leavers[:, 0])
    # Where the leavers leave from: the real share (2013/14 … 2021/22) leaving Gymnasien,
    # Waldorf schools, Weiterbildungskollegs and (half) Gesamtschulen drives the Abitur share;
    # a Gemeinde without such a school has (almost) no Abitur leavers.
    late = abg[abg["start"].between(2013, 2021)].groupby("ags")[list(FORMS_9K21)].sum()
    late = late.reindex(gem["ags"]).fillna(0)
    oberstufe = late["gymnasien"] + 0.5 * late["gesamtschulen"] + late["waldorf"]
    oberstufe = oberstufe + late["weiterbildungskollegs"]
    nrw_share = oberstufe.sum() / late["insgesamt"].sum()
    share = (oberstufe / late["insgesamt"].where(late["insgesamt"] > 0)).fillna(nrw_share)
    share = share.clip(0.02, 0.95).to_numpy()
    upper = np.log(share / (1 - share)) - math.log(nrw_share / (1 - nrw_share))

    # Foreign share: the Kreis's real share of foreign pupils (2023/24), spread within a Kreis
    # along the social index (disadvantaged towns have more foreign pupils), keeping the Kreis
    # mean (weighted by leavers).
    kreis_share = read_foreign_pupil_share()
    base = gem["kreis_code"].map(kreis_share).to_numpy(dtype=float)
    raw = base * np.exp(0.25 * z)
    weights = leavers[:, : len(real_years)].sum(axis=1) + 1.0
    frame = gem.assign(si=si, raw=raw, w=weights, base=base)
    mean_raw = frame.groupby("kreis_code")[["raw", "w"]].apply(
        lambda d: float(np.average(d["raw"], weights=d["w"]))
    )
    foreign = np.clip(raw * base / frame["kreis_code"].map(mean_raw).to_numpy(), 0.02, 0.6)
    frame = gem.assign(si=np.round(si, 3), foreign_share=foreign)

    grundschule = k9[k9["variable"] == "Schüler/-innen"].pivot(
        index="ags", columns="start", values="grundschulen"
    )
    return Municipalities(
        frame=frame.reset_index(drop=True),
        z=z,
        leavers=leavers.astype(np.int64),
        double_cohort=double.astype(np.int64),
        upper=upper,
        grundschule=grundschule.reindex(gem["ags"]).fillna(0),
    )


# ---------------------------------------------------------------------------------------------
# A. School leavers by qualification
# ---------------------------------------------------------------------------------------------

# qualifications: ohne Hauptschulabschluss, Hauptschulabschluss, mittlerer Schulabschluss,
# Fachhochschulreife, allgemeine Hochschulreife (the order of the delivery's columns)
OHNE, HSA, MSA, FHR, AHR = range(5)
# NRW shares per school year 2012/13 … 2023/24 (percent); MSA is the remainder.
TARGET_SHARES = {
    OHNE: (5.8, 5.9, 5.9, 6.0, 6.1, 6.2, 6.0, 5.9, 6.0, 6.3, 6.7, 6.9),
    HSA: (15.0, 16.5, 16.5, 16.0, 15.5, 15.5, 15.0, 14.5, 14.5, 14.5, 14.5, 14.5),
    FHR: (2.0,) * 12,
    # 2012/13: the double Abitur cohort (G8 and G9 left together), see double_cohort
    AHR: (45.0, 37.0, 37.5, 38.0, 38.0, 38.5, 39.0, 39.5, 39.0, 38.5, 38.0, 37.5),
}
# Pooled NRW rate ratios: foreign / German and male / female, per qualification.
TARGET_FOREIGN_RATIO = {OHNE: 2.2, HSA: 1.8, AHR: 0.45}
TARGET_MALE_RATIO = {OHNE: 1.5, HSA: 1.3, AHR: 0.8}
# Social index slope (logit per Sozialindexstufe) for HSA, FHR, AHR; OHNE's slope is
# calibrated so that Gelsenkirchen's 2022/23–2023/24 rate is GELSENKIRCHEN_OHNE.
SI_SLOPE = {HSA: 0.15, FHR: 0.0, AHR: -0.12}
# Slope on the logit of the share of leavers from schools with an Oberstufe (Municipalities).
UPPER_SLOPE = {HSA: -0.3, FHR: 0.3, AHR: 0.9}
GELSENKIRCHEN_OHNE = 0.13
# Spread of the municipality effects (logit) beyond the social index, and year-to-year noise.
MUNICIPALITY_SD = {OHNE: 0.18, HSA: 0.15, FHR: 0.2, AHR: 0.12}
YEAR_SD = 0.06
# Foreign leavers' share relative to 2023/24 (their share of pupils grew after 2015 and 2022).
FOREIGN_TREND = (0.62, 0.63, 0.65, 0.68, 0.74, 0.80, 0.84, 0.87, 0.89, 0.91, 0.96, 1.0)
FEMALE_SHARE = {"german": 0.49, "foreign": 0.47}


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def leaver_leaf_shares(m: Municipalities) -> np.ndarray:
    """[G, Y, sex (female, male), nationality (german, foreign)] shares of a Gemeinde-year."""
    foreign = m.frame["foreign_share"].to_numpy()[:, None] * np.array(FOREIGN_TREND)[None, :]
    w = np.empty((*foreign.shape, 2, 2))
    fem_d, fem_a = FEMALE_SHARE["german"], FEMALE_SHARE["foreign"]
    w[..., 0, 0] = (1 - foreign) * fem_d
    w[..., 1, 0] = (1 - foreign) * (1 - fem_d)
    w[..., 0, 1] = foreign * fem_a
    w[..., 1, 1] = foreign * (1 - fem_a)
    return w


def leaver_probabilities(m: Municipalities, rng: np.random.Generator) -> np.ndarray:
    """[G, Y, sex, nationality, qualification] probabilities, calibrated to the targets."""
    n_g, n_y = m.leavers.shape
    ge = m.index(GELSENKIRCHEN)
    effect = np.zeros((n_g, 5))
    for q in (OHNE, HSA, FHR, AHR):
        effect[:, q] = rng.normal(0.0, MUNICIPALITY_SD[q], n_g)
        effect[:, q] += UPPER_SLOPE.get(q, 0.0) * m.upper
    noise = rng.normal(0.0, YEAR_SD, (n_g, n_y, 5))
    noise[..., MSA] = 0.0
    # The anchor city: its level comes from the calibrated slope alone.
    effect[ge, OHNE] = 0.0
    noise[ge, :, OHNE] = 0.0

    alpha = np.zeros((n_y, 5))
    slope = np.array([0.25, SI_SLOPE[HSA], 0.0, SI_SLOPE[FHR], SI_SLOPE[AHR]])
    foreign_eff = np.array([0.8, 0.6, 0.0, 0.0, -0.8])
    male_eff = np.array([0.4, 0.25, 0.0, 0.0, -0.2])
    is_male = np.array([0.0, 1.0])[:, None, None]  # sex axis: female, male
    is_foreign = np.array([0.0, 1.0])[None, :, None]  # nationality axis: german, foreign
    totals = m.leavers.astype(float)
    n_leaf = totals[:, :, None, None] * leaver_leaf_shares(m)  # expected leaf sizes
    e2012 = np.where(totals[:, 0] > 0, m.double_cohort / np.maximum(totals[:, 0], 1), 0.0)
    target = np.zeros((n_y, 5))
    for q, shares in TARGET_SHARES.items():
        target[:, q] = np.array(shares) / 100
    target[:, MSA] = 1 - target.sum(axis=1)

    def probabilities() -> np.ndarray:
        sex_nat = is_male * male_eff + is_foreign * foreign_eff  # [sex, nationality, q]
        logits = (
            alpha[None, :, None, None, :]
            + (m.z[:, None] * slope[None, :])[:, None, None, None, :]
            + effect[:, None, None, None, :]
            + noise[:, :, None, None, :]
            + sex_nat[None, None, :, :, :]
        )
        p = _softmax(logits)
        # 2012/13: the extra Gymnasium leavers of the double cohort all leave with the Abitur.
        p[:, 0] *= (1 - e2012)[:, None, None, None]
        p[:, 0, ..., AHR] += e2012[:, None, None]
        return p

    for _ in range(60):
        p = probabilities()
        counts = n_leaf[..., None] * p  # [G, Y, s, n, q]
        shares = counts.sum(axis=(0, 2, 3)) / counts.sum(axis=(0, 2, 3, 4))[:, None]
        alpha += np.log(target / shares)
        alpha -= alpha[:, [MSA]]
        for q, ratio in TARGET_FOREIGN_RATIO.items():
            by_nat = counts[..., q].sum(axis=(0, 1, 2)) / n_leaf.sum(axis=(0, 1, 2))
            foreign_eff[q] += 0.8 * np.log(ratio / (by_nat[1] / by_nat[0]))
        for q, ratio in TARGET_MALE_RATIO.items():
            by_sex = counts[..., q].sum(axis=(0, 1, 3)) / n_leaf.sum(axis=(0, 1, 3))
            male_eff[q] += 0.8 * np.log(ratio / (by_sex[1] / by_sex[0]))
        ge_rate = counts[ge, -2:, ..., OHNE].sum() / n_leaf[ge, -2:].sum()
        slope[OHNE] += 0.8 * np.log(GELSENKIRCHEN_OHNE / ge_rate) / m.z[ge]
    return probabilities()


def simulate_leavers(m: Municipalities, rng: np.random.Generator) -> np.ndarray:
    """Integer counts [G, Y, sex, nationality, qualification]; their sum is the real total."""
    p = leaver_probabilities(m, rng)
    w = leaver_leaf_shares(m)
    leaf = rng.multinomial(m.leavers, w.reshape((*w.shape[:2], 4)))
    leaf = leaf.reshape(w.shape)
    p = p / p.sum(axis=-1, keepdims=True)
    return rng.multinomial(leaf, p)


# ---------------------------------------------------------------------------------------------
# C. Population under 3 and 3 to under 6 (31 December)
# ---------------------------------------------------------------------------------------------

COHORT_REFERENCE = tuple(range(2016, 2022))  # Grundschule school years used for the scale
COHORT_SD = 0.02  # lognormal noise of a municipality's birth cohort
TREND_SD = 0.008  # spread of the municipalities' own trend (log per year)


def grundschule_cohorts(start: int) -> tuple[int, ...]:
    """Birth years of the four Grundschule grades in school year start/start+1 (cut-off 30
    September: first graders of August `start` were born mostly in start-6)."""
    return tuple(range(start - 9, start - 5))


def simulate_cohorts(m: Municipalities, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Birth cohort size per municipality for the birth years 2007 … 2023: {year: [G]}."""
    gs = m.grundschule
    births = {y: BIRTHS_DE[y] / BIRTHS_DE[2012] for y in BIRTHS_DE}
    ref = list(COHORT_REFERENCE)
    exposure = sum(sum(births[b] for b in grundschule_cohorts(s)) for s in ref)
    base = gs[ref].sum(axis=1).to_numpy() / exposure
    # A Gemeinde with (almost) no Grundschule pupils in the reference years (its school closed
    # or is counted elsewhere): its median share of the NRW pupils in the years it had some.
    pupils = gs.to_numpy()
    nrw = pupils.sum(axis=0)
    shares = np.where(pupils > 0, pupils / nrw, np.nan)
    usual = np.nanmedian(shares, axis=1) * nrw[gs.columns.isin(ref)].sum() / exposure
    base = np.where(base < 0.5 * usual, usual, base)
    trend = rng.normal(0.0, TREND_SD, len(base))
    cohorts = {}
    for b in range(2007, 2024):
        mu = base * births[b] * np.exp(trend * (b - 2014) + rng.normal(0.0, COHORT_SD, len(base)))
        cohorts[b] = rng.poisson(mu)
    return cohorts


def migration_factor(m: Municipalities, birth: int, year: int) -> np.ndarray:
    """Children of a cohort alive and living in the Gemeinde at 31.12.`year` per birth:
    a small steady net inflow plus the arrivals of 2015/16 and of 2022 (Ukraine), stronger where
    the foreign population is larger."""
    weight = m.frame["foreign_share"].to_numpy() / 0.168
    factor = 1.0 + 0.006 * (year - birth) * np.ones_like(weight)
    if year >= 2015 and birth <= 2015:
        factor = factor + 0.02 * weight
    if year >= 2022 and birth <= 2021:
        factor = factor + 0.02 * weight
    return factor


def simulate_population(m: Municipalities, rng: np.random.Generator) -> np.ndarray:
    """[G, len(POP_YEARS), 2] population under 3 and 3 to under 6 on 31 December."""
    cohorts = simulate_cohorts(m, rng)
    pop = np.zeros((len(m.frame), len(POP_YEARS), 2), dtype=np.int64)
    for j, year in enumerate(POP_YEARS):
        for age in range(6):
            birth = year - age
            count = cohorts[birth] * migration_factor(m, birth, year)
            pop[:, j, age // 3] += np.round(count).astype(np.int64)
    return pop


# ---------------------------------------------------------------------------------------------
# B. Children in day care (1 March), relative to the population of 31 December before
# ---------------------------------------------------------------------------------------------

# NRW participation rates (percent) on 1 March 2013 … 2024.
TARGET_U3 = (20.0, 23.0, 25.0, 25.5, 25.8, 26.8, 27.8, 28.4, 27.6, 28.8, 29.4, 30.0)
TARGET_3_6 = (91.5, 92.0, 92.2, 91.5, 91.0, 90.5, 90.3, 90.2, 89.6, 89.8, 89.9, 90.3)
# Anchors for 1 March 2023: Gelsenkirchen sets the social-index slope, Duisburg its own effect.
ANCHORS_U3 = {GELSENKIRCHEN: 0.20, DUISBURG: 0.21}
ANCHORS_3_6 = {GELSENKIRCHEN: 0.845}
ANCHOR_YEAR = 2023
DAYCARE_MUNICIPALITY_SD = {"u3": 0.25, "3_6": 0.30}
DAYCARE_YEAR_SD = 0.04  # step of the random walk (logit per year)
# The later delivery: final 2024 figures for six municipalities (three in the Ruhr).
CORRECTED_2024 = ("05113000", "05916000", "05978032", "05315000", "05711000", "05154036")


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def daycare_rates(
    m: Municipalities, pop: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """[G, len(KITA_YEARS)] participation probabilities for age group k (0: u3, 1: 3_6)."""
    name = ("u3", "3_6")[k]
    targets = np.array((TARGET_U3, TARGET_3_6)[k]) / 100
    anchors = (ANCHORS_U3, ANCHORS_3_6)[k]
    n_g, n_y = len(m.frame), len(KITA_YEARS)
    base = pop[:, [POP_YEARS.index(y - 1) for y in KITA_YEARS], k].astype(float)  # [G, Y]
    effect = rng.normal(0.0, DAYCARE_MUNICIPALITY_SD[name], n_g)
    # Each municipality's own path (a random walk: places expand at their own pace), pinned
    # to 0 in the anchor year so that `effect` is its level then.
    ja = KITA_YEARS.index(ANCHOR_YEAR)
    noise = np.cumsum(rng.normal(0.0, DAYCARE_YEAR_SD, (n_g, n_y)), axis=1)
    noise -= noise[:, [ja]]
    slope_city = m.index(GELSENKIRCHEN)
    effect[[m.index(a) for a in sorted(anchors)]] = 0.0
    alpha = np.array([_logit(t) for t in targets])
    slope = -0.2

    def rates() -> np.ndarray:
        logits = alpha[None, :] + slope * m.z[:, None] + effect[:, None] + noise
        return 1 / (1 + np.exp(-logits))

    for _ in range(60):
        q = rates()
        nrw = (q * base).sum(axis=0) / base.sum(axis=0)
        alpha += np.log(targets / (1 - targets)) - np.log(nrw / (1 - nrw))
        target = anchors[GELSENKIRCHEN]
        slope += 0.8 * (_logit(target) - _logit(q[slope_city, ja])) / m.z[slope_city]
        for ags in sorted(anchors):
            i = m.index(ags)
            if i != slope_city:
                effect[i] += _logit(anchors[ags]) - _logit(q[i, ja])
    return rates()


def simulate_daycare(
    m: Municipalities, pop: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """Children in day care [G, len(KITA_YEARS), 2] (u3, 3_6) and the corrected 2024 figures
    of the later delivery {ags: (u3, 3_6)}."""
    care = np.zeros((len(m.frame), len(KITA_YEARS), 2), dtype=np.int64)
    base = pop[:, [POP_YEARS.index(y - 1) for y in KITA_YEARS], :]
    for k in range(2):
        q = daycare_rates(m, pop, k, rng)
        care[..., k] = rng.binomial(base[..., k], q)
    corrected = {}
    for ags in CORRECTED_2024:
        i = m.index(ags)
        change = rng.uniform(0.01, 0.04, 2) * rng.choice((-1.0, 1.0), 2)
        final = np.round(care[i, -1] * (1 + change)).astype(np.int64)
        corrected[ags] = tuple(int(v) for v in np.minimum(final, base[i, -1]))
    return care, corrected


# ---------------------------------------------------------------------------------------------
# D. The tutoring programme "Lernpaten Ruhr (synthetisch)"
# ---------------------------------------------------------------------------------------------

PROGRAMME = "Lernpaten Ruhr (synthetisch)"
PROGRAMME_FORMS = ("02", "04", "10", "14", "15")  # Grund-, Haupt-, Real-, Sekundar-, Gesamtschule
PROGRAMME_MIN_INDEX = 6
# Schools in the programme per school year 2016/17 … 2024/25.
PROGRAMME_SCHOOLS = (18, 31, 52, 80, 96, 128, 172, 220, 232)
PILOT_CITIES = (DUISBURG, "05113000", GELSENKIRCHEN)  # 2016/17: Duisburg, Essen, Gelsenkirchen
PROGRAMME_DROPOUT = 0.03  # yearly chance that a school leaves the programme


def programme_candidates(m: Municipalities) -> pd.DataFrame:
    """Real schools eligible for the programme: Ruhr, the five forms, Sozialindexstufe >= 6."""
    ruhr = set(m.frame.loc[m.frame["in_ruhr"], "ags"])
    schools = read_schools()
    eligible = (
        schools["ags"].isin(ruhr)
        & schools["schulform"].isin(PROGRAMME_FORMS)
        & (schools["sozialindex"] >= PROGRAMME_MIN_INDEX)
    )
    return schools[eligible].sort_values("schulnummer").reset_index(drop=True)


def simulate_programme(m: Municipalities, rng: np.random.Generator) -> pd.DataFrame:
    """One row per school and school year: schulnummer, start, schulname, pupils, hours."""
    cand = programme_candidates(m)
    n = len(cand)
    # Entry order: weighted random order (more disadvantaged schools first), pilot cities first.
    weight = 1.0 + (cand["sozialindex"].to_numpy() - PROGRAMME_MIN_INDEX)
    key = np.log(rng.uniform(size=n)) / weight
    pilot = cand["ags"].isin(PILOT_CITIES).to_numpy()
    order = np.lexsort((-key, ~pilot))  # pilot first, then by key (descending)
    size = rng.uniform(15, 45, n) + np.where(cand["schulform"].to_numpy() == "02", 0, 8)
    hours_per_pupil = rng.uniform(18, 34, n)

    joined: dict[int, int] = {}  # candidate -> start year of its first programme year
    active: list[int] = []
    left: set[int] = set()
    rows = []
    for target, year in zip(PROGRAMME_SCHOOLS, TUTORING_YEARS, strict=True):
        stay = []
        for i in active:
            if rng.uniform() < PROGRAMME_DROPOUT or cand.at[i, "last_year"] < year:
                left.add(i)
            else:
                stay.append(i)
        active = stay
        for i in order:
            if len(active) >= target:
                break
            if i in joined or i in left or cand.at[i, "opened"] > year:
                continue
            if cand.at[i, "last_year"] < year + 1:
                continue
            if year == TUTORING_YEARS[0] and not pilot[i]:
                continue
            joined[int(i)] = year
            active.append(int(i))
        active.sort()
        for i in active:
            ramp = (0.6, 0.85)[year - joined[i]] if year - joined[i] < 2 else 1.0
            covid = 0.8 if year == 2020 else 1.0
            pupils = size[i] * ramp * covid * rng.normal(1.0, 0.12)
            pupils = int(np.clip(round(pupils), 10, 60))
            per_pupil = hours_per_pupil[i] * (0.75 if year == 2020 else 1.0)
            halves = round(2 * pupils * per_pupil * rng.normal(1.0, 0.08))  # 0.5-hour steps
            rows.append(
                (cand.at[i, "schulnummer"], year, cand.at[i, "kurzbezeichnung"], pupils, halves)
            )
    out = pd.DataFrame(rows, columns=["schulnummer", "start", "schulname", "pupils", "halves"])
    return out.sort_values(["start", "schulnummer"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Writers: the partners' formats
# ---------------------------------------------------------------------------------------------

LEAVERS_HEADER = (
    "Schuljahr;Gemeindeschlüssel;Gemeinde;Geschlecht;Staatsangehörigkeit;"
    "Abgänger/-innen insgesamt;ohne Hauptschulabschluss;mit Hauptschulabschluss;"
    "mit mittlerem Schulabschluss;mit Fachhochschulreife;mit allgemeiner Hochschulreife;"
    "Anteil ohne Hauptschulabschluss in %"
)
SEXES = ("insgesamt", "weiblich", "männlich")
NATIONALITIES = ("insgesamt", "deutsch", "ausländisch")
SUPPRESS_BELOW = 5  # foreign leavers of a Gemeinde-year; below: foreign × sex cells are "."

KITA_HEADER = (
    "Stichtag;Gemeindeschlüssel;Gemeindename;Kinder unter 3 Jahren in Tagesbetreuung;"
    "Kinder von 3 bis unter 6 Jahren in Tagesbetreuung"
)
PROVISIONAL_YEAR = 2024

FFCSV_HEADER = (
    "statistics_code;statistics_label;time_code;time_label;time;1_variable_code;"
    "1_variable_label;1_variable_attribute_code;1_variable_attribute_label;2_variable_code;"
    "2_variable_label;2_variable_attribute_code;2_variable_attribute_label;value;value_unit;"
    "value_variable_code;value_variable_label"
)
AGE_GROUPS = (("ALT000B03", "unter 3 Jahre"), ("ALT003B06", "3 bis unter 6 Jahre"))

TUTORING_HEADER = (
    "schulnummer",
    "schuljahr",
    "schulname",
    "teilnehmende_schueler",
    "foerderstunden",
)


def share_tenths(part: int, total: int) -> str:
    """part / total × 100 with one decimal (half up) and a decimal comma; 'x' for total 0."""
    if total == 0:
        return "x"
    tenths = (2000 * part + total) // (2 * total)
    return f"{tenths // 10},{tenths % 10}"


def leavers_lines(m: Municipalities, counts: np.ndarray) -> list[str]:
    # every published cell [G, Y, sex (insgesamt, weiblich, männlich), nationality, q]
    by_nat = np.concatenate([counts.sum(axis=2, keepdims=True), counts], axis=2)
    cells = np.concatenate([by_nat.sum(axis=3, keepdims=True), by_nat], axis=3).tolist()
    small = (counts[:, :, :, 1].sum(axis=(2, 3)) < SUPPRESS_BELOW).tolist()
    lines = [LEAVERS_HEADER]
    ags, names = m.frame["ags"].tolist(), m.frame["name"].tolist()
    for j, year in enumerate(LEAVER_YEARS):
        for g in range(len(ags)):
            for s, sex in enumerate(SEXES):
                for n, nat in enumerate(NATIONALITIES):
                    head = f"{school_year(year)};{ags[g]};{names[g]};{sex};{nat}"
                    if small[g][j] and s > 0 and n == 2:
                        lines.append(head + ";." * 7)
                        continue
                    q = cells[g][j][s][n]
                    total = sum(q)
                    values = ";".join(map(str, q))
                    lines.append(f"{head};{total};{values};{share_tenths(q[OHNE], total)}")
    return lines


def kita_lines(m: Municipalities, care: np.ndarray, only: dict | None = None) -> list[str]:
    lines = [KITA_HEADER]
    ags, names = m.frame["ags"].tolist(), m.frame["name"].tolist()
    for j, year in enumerate(KITA_YEARS):
        if only is not None and year != PROVISIONAL_YEAR:
            continue
        flag = " p" if year == PROVISIONAL_YEAR and only is None else ""
        for g in range(len(ags)):
            if only is not None and ags[g] not in only:
                continue
            u3, o3 = only[ags[g]] if only is not None else care[g, j]
            lines.append(f"01.03.{year};{ags[g]};{names[g]};{u3}{flag};{o3}{flag}")
    return lines


def population_lines(m: Municipalities, pop: np.ndarray) -> list[str]:
    lines = [FFCSV_HEADER]
    ags, names = m.frame["ags"].tolist(), m.frame["official_name"].tolist()
    for j, year in enumerate(POP_YEARS):
        for g in range(len(ags)):
            for k, (code, label) in enumerate(AGE_GROUPS):
                lines.append(
                    "12411;Fortschreibung des Bevölkerungsstandes;STAG;Stichtag;"
                    f"{year}-12-31;GEMEIN;Gemeinden;{ags[g]};{names[g]};"
                    f"ALTX20;Altersgruppen (unter 3 bis 75 u. m.);{code};{label};"
                    f"{int(pop[g, j, k])};Anzahl;BEVSTD;Bevölkerungsstand"
                )
    return lines


def tutoring_text(programme: pd.DataFrame) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(TUTORING_HEADER)
    for row in programme.itertuples(index=False):
        hours = f"{row.halves // 2}.{5 if row.halves % 2 else 0}"
        writer.writerow((row.schulnummer, school_year(row.start), row.schulname, row.pupils, hours))
    return buffer.getvalue()


def _write(path: Path, text: str, encoding: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def _stream(k: int) -> np.random.Generator:
    return np.random.default_rng([SEED, k])


def simulate() -> dict:
    """Everything the deliveries contain, as arrays (also used by the tests)."""
    m = build_municipalities(_stream(0))
    leavers = simulate_leavers(m, _stream(1))
    pop = simulate_population(m, _stream(2))
    care, corrected = simulate_daycare(m, pop, _stream(3))
    programme = simulate_programme(m, _stream(4))
    return {
        "municipalities": m,
        "leavers": leavers,
        "population": pop,
        "daycare": care,
        "daycare_corrected": corrected,
        "programme": programme,
    }


def generate(out_dir: Path) -> list[Path]:
    """Write the five SYNTHETIC delivery files under out_dir/<source_id>/; return their paths."""
    out_dir = Path(out_dir)
    sim = simulate()
    m = sim["municipalities"]
    return [
        _write(
            out_dir / FILE_LEAVERS, "\r\n".join(leavers_lines(m, sim["leavers"])) + "\r\n", "cp1252"
        ),
        _write(out_dir / FILE_KITA, "\n".join(kita_lines(m, sim["daycare"])) + "\n", "utf-8-sig"),
        _write(
            out_dir / FILE_KITA_FIX,
            "\n".join(kita_lines(m, sim["daycare"], sim["daycare_corrected"])) + "\n",
            "utf-8-sig",
        ),
        _write(
            out_dir / FILE_POP,
            "\n".join(population_lines(m, sim["population"])) + "\n",
            "utf-8-sig",
        ),
        _write(out_dir / FILE_TUTORING, tutoring_text(sim["programme"]), "utf-8"),
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else DELIVERIES
    for path in generate(out_dir):
        print(f"{path.stat().st_size:>10,d}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
