"""Build the embedded North East London (NEL) default dataset for estates-opt.

Reads only the open-data pack in ``geodata/raw/nel`` and writes ``geodata/nel``.
Real data (practices, PCNs, list sizes, LSOAs, the NHS website estate) is curated by
documented rules. Rooms, opening hours, costs and utilisation have no open source, so
they are drawn from seeded random streams and calibrated so the dataset tells the
story of DOMAIN.md: full practices and hospitals, a community estate about 40% used.
Same inputs -> same bytes. The rules are documented in ``geodata/README.md``.

Run from the repository root:  .venv/bin/python geodata/build_nel.py
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist

from build_basemap import build as build_basemap  # geodata/build_basemap.py, beside this file

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw" / "nel"
OUT = HERE / "nel"
CURATION_LOG = HERE / "curation" / "nel_dropped_records.csv"
SEED = 20221001  # enhanced access began on 1 October 2022
BNG, WGS84 = "EPSG:27700", "EPSG:4326"
CIRCUITY = 1.3  # crow-fly -> road distance, as in estates_opt.inputs.travel

log = logging.getLogger("build_nel")

ROOM_TYPES = ("consulting", "treatment", "group", "diagnostics")
BANDS = ("weekday", "evening", "saturday", "sunday")
ROOM_HOURS = {"weekday": 40.0, "evening": 7.5, "saturday": 8.0, "sunday": 8.0}
BAND_COST_FACTOR = {"weekday": 1.0, "evening": 1.15, "saturday": 1.2, "sunday": 1.35}
ILLUSTRATIVE = "illustrative: seeded synthetic value (geodata/build_nel.py); no open source"

NON_GP_SERVICES = {"F84750", "Y03433", "Y03434"}  # active 'practices' with no list or PCN
SPECIAL_ALLOCATION = {"Y06592"}  # Special Allocation Scheme: PCN 'U', outside NEL
ACUTE_SITES = {  # NHS acute hospitals: main NHS-website record -> short name
    "R1H12": "Royal London", "R1HM0": "St Bartholomew's", "R1HNH": "Newham",
    "R1HKH": "Whipps Cross", "RQXM1": "Homerton", "RF4QH": "Queen's", "RF4DG": "King George",
}
ACUTE_CAMPUS_M, SAME_BUILDING_M, SAME_NAME_M, PRACTICE_COLOCATED_M = 150.0, 50.0, 500.0, 25.0
HUB_MAX_TRAVEL_KM = 5.0  # a hub must be central: its PCN's population reaches it within this

# Substrings of " lower-case name " that drop a NHS-website record (README lists them).
EXCLUDE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "dental": ("dental", "dentist", "orthodont"),
    "private_or_independent": (
        "optician", "scrivens", "hearing care", "laser", "skin clinic", "sk:n", "askinology",
        "cosmetic", "aesthetic", "nuffield", "spire", "harley street", "london bridge hospital",
        "hca healthcare", "osteopath", "physio", "spineplus", "spamedica", "evolutio", "ivf",
        "fertility", "bpas", "msi reproductive", "nupas", "lycahealth", "livi ", "freedom clinics",
        "yoga", "feet first", "gutcare", "best health", "ess clinic", "moreways", "priory",
        "roodlane", "finsbury healthcare", "docklands healthcare", "city of london medical",
        "fleet street medical", "tower hill medical", "bloodworks", "esteve", "aeon nursing",
        "southern ultrasound", "cardiac diagnostics", " ltd", " limited", "gamma knife",
        "independent hospital", "cygnet", "practice plus group", "inhealth", "mildmay uk",
        "kilburn primary care", "gp healthcare alliance", "gp solutions", "dmc ", "cacs ",
        "nous ", "accelerate cic", "essex msk", "patientfirst", "havering health ",
        "confederation", "health collaborative", "leyton health care", "bewize",
    ),
    "admin_or_non_clinical": (
        "headquarters", " hq", "corporate", "ict department", "data centre", "telecity",
        "telehouse", "clinical education", "postgraduate", "research unit", "learning trust",
        "community college", " 111 ", "epact", "e-pact", "social services", "voluntary service",
        "sports & leisure", "barnardos", "ingeus", "royal society", "ssafa", "imperial college",
        "beehive", "compass wellbeing", "turning point", "drug project", "supported living",
        "jigsawplus", "bikur cholim", "derman", "icanho", " mind ", "hospice", "school",
        "william harvey house", "ncsp",
    ),
    "mental_health_inpatient_or_residential": (
        "centre for mental health", "john howard", "goodmayes hospital", "care centre",
        "the lodge", "recovery unit", "personality disorder", "home treatment", " htt ",
        "respite", "care home", "lily close", "woodbury unit", "thornebury unit", "brookside",
        "barley court", "meadow court", "red oak lodge", "hansa lodge", "farm lodge",
    ),
    "ambulance": ("ambulance", "amb station", "fbc "),
    "birth_centre": ("birth centre",),
}
PRACTICE_WORDS = re.compile(r"surgery|practice|medical cent|\bgp\b|health group|medical group|medical$")
BUILDING_WORDS = re.compile(r"centre|center|clinic|clinc|hospital|sure start")
BUILDING_TYPES = (  # first pattern found in any of a building's names wins
    ("community_hospital", re.compile(r"hospital|polyclinic|poly clinic|guttman|treatment centre")),
    ("health_centre", re.compile(r"health centre|health center|medical cent|wellbeing centre")),
    ("clinic", re.compile(r"clinic|clinc|centre|sure start")),
)
HUB_BUILDING_TYPES = ("community_hospital", "health_centre")
# Suitability types (geodata/README.md 3.12): which services a building may host. Refines the
# curation class above (which keeps setting room counts and hub eligibility).
MENTAL_HEALTH_WORDS = re.compile(
    r"iapt|talking therap|psycholog|mental health|consultation service|therapeutic community|"
    r"recovery service|addiction|learning disability")
CHILDREN_WORDS = re.compile(r"children'?s'?s? centre|childrens centre|sure start|early years|"
                            r"young people")
ERIC_MENTAL_HEALTH = "4. Mental Health"
BUILDING_TYPE_OVERRIDES = HERE / "curation" / "nel_building_type_overrides.csv"
BUILDING_TYPE_LOG = HERE / "curation" / "nel_building_types.csv"
# Which building types may host each category (and the exceptions by service): the data of
# services.csv building_types. Nothing patient-facing goes into team bases and offices.
CLINICAL = ("practice", "community_hospital", "health_centre", "clinic")
SUITABLE_TYPES = {
    "pcn_clinic": CLINICAL,
    "outpatient_outreach": (*CLINICAL, "acute"),
    "enhanced_access": CLINICAL,
}
SUITABLE_TYPES_BY_SERVICE = {  # community venues may host these
    "pcn_social_prescribing": (*CLINICAL, "childrens_centre", "mental_health_base"),
    "pcn_group_consultations": (*CLINICAL, "childrens_centre", "mental_health_base"),
    "pcn_vaccination": (*CLINICAL, "childrens_centre"),  # childhood immunisation clinics
    # diagnostics outreach needs an equipped clinical building, not a small clinic
    "op_cardiology": ("practice", "community_hospital", "health_centre", "acute"),
    "op_respiratory": ("practice", "community_hospital", "health_centre", "acute"),
}
ROOM_RANGES = {  # inclusive ranges: consulting, treatment, group, diagnostics
    "community_hospital": ((8, 14), (2, 4), (1, 2), (1, 2)),
    "health_centre": ((4, 8), (1, 3), (0, 1), (0, 1)),
    "clinic": ((2, 5), (0, 1), (0, 1), (0, 0)),
    "team_base": ((2, 4), (0, 1), (0, 0), (0, 0)),
    "hub": ((6, 14), (2, 5), (1, 2), (1, 2)),  # scaled by PCN size, see make_hubs
    "acute": ((30, 60), (10, 20), (2, 5), (10, 20)),  # resized from outreach, see size_acute
}
ACUTE_ROOM_LIMITS = {"consulting": (20, 60), "treatment": (6, 20), "diagnostics": (6, 20)}

SERVICES = (  # id, name, category, room type, hours per 1,000 registered patients per week
    ("pcn_diabetes", "Diabetes clinic", "pcn_clinic", "consulting", 2.0),
    ("pcn_respiratory", "Respiratory clinic (asthma, COPD)", "pcn_clinic", "consulting", 1.0),
    ("pcn_cardiovascular", "Hypertension and cardiovascular clinic", "pcn_clinic", "consulting", 1.5),
    ("pcn_social_prescribing", "Social prescribing", "pcn_clinic", "consulting", 1.5),
    ("pcn_phlebotomy", "Phlebotomy", "pcn_clinic", "treatment", 1.2),
    ("pcn_vaccination", "Vaccination and immunisation", "pcn_clinic", "treatment", 0.8),
    ("pcn_group_consultations", "Group consultations", "pcn_clinic", "group", 1.0),
    ("op_dermatology", "Dermatology outreach", "outpatient_outreach", "consulting", 0.8),
    ("op_msk", "Musculoskeletal (MSK) outreach", "outpatient_outreach", "consulting", 1.2),
    ("op_diabetes", "Diabetes consultant outreach", "outpatient_outreach", "consulting", 0.4),
    ("op_gynaecology", "Gynaecology outreach", "outpatient_outreach", "treatment", 0.4),
    ("op_cardiology", "Cardiology outreach (ECG, echo)", "outpatient_outreach", "diagnostics", 0.5),
    ("op_respiratory", "Respiratory outreach (spirometry)", "outpatient_outreach", "diagnostics", 0.3),
    ("ea_enhanced_access", "Enhanced access", "enhanced_access", "consulting", 1.0),
)
# Share of a PCN clinic's weekly hours the PCN runs at scale and could move (illustrative
# assumption, geodata/README.md 3.13): the rest is long-term-condition review work the
# practice's own nurses do for its own list (QOF), which stays in the practice as fixed work.
MOVABLE_SHARE = {
    "pcn_diabetes": 0.4, "pcn_respiratory": 0.4, "pcn_cardiovascular": 0.4,
    "pcn_phlebotomy": 0.5, "pcn_vaccination": 0.5,
    "pcn_social_prescribing": 1.0, "pcn_group_consultations": 1.0,  # network roles (ARRS)
}
CATEGORY_RULES = {  # bands, eligible site kinds, max travel km, provenance of the rate
    "pcn_clinic": ("weekday", "gp_practice;pcn_hub;community", 6.0,
                   "illustrative: typical long-term-condition workload, calibrated"),
    "outpatient_outreach": ("weekday", "pcn_hub;community;acute", 10.0,
                            "illustrative: typical outpatient volumes, calibrated"),
    "enhanced_access": ("evening;saturday", "gp_practice;pcn_hub;community", 5.0,
                        "real rule: PCN DES from Oct 2022, 60 minutes per 1,000 patients a week"),
}


# ---------------------------------------------------------------- helpers
def rng_for(stream: str) -> np.random.Generator:
    """An independent seeded generator per purpose, so tuning one part never reshuffles another."""
    return np.random.default_rng([SEED, zlib.crc32(stream.encode())])


def bng_xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """(n, 2) metres in EPSG:27700: points as they are, polygons by representative point
    (the same origins estates_opt.inputs.travel measures travel from)."""
    geoms = gdf.to_crs(BNG).geometry
    pts = geoms if (geoms.geom_type == "Point").all() else geoms.representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def round_geometry(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Round coordinates to 6 dp (~0.1 m) and orient rings as RFC 7946 asks."""
    rounded = shapely.transform(geoms.values, lambda xy: np.round(xy, 6))
    return gpd.GeoSeries(shapely.orient_polygons(rounded), index=geoms.index, crs=geoms.crs)


def normalise(name: str) -> str:
    """Comparable form of a building name: case, '&', punctuation, common abbreviations."""
    text = re.sub(r"[^a-z0-9 ]+", " ", name.lower().replace("&", " and "))
    swaps = {"med": "medical", "ctr": "centre", "hlth": "health", "center": "centre"}
    return " ".join(swaps.get(w, w) for w in text.split() if w != "the")


def exclusion_reason(name: str, sector: str, parent: str) -> str:
    """Why a NHS-website record is not community or acute estate ('' if it is)."""
    padded = f" {name.lower()} "
    for reason, words in EXCLUDE_KEYWORDS.items():
        hit = next((w for w in words if w in padded), None)
        if hit:
            return f"{reason}: '{hit.strip()}'"
    if sector == "Independent Sector" and "nhs" not in parent.lower():
        return "private_or_independent: independent-sector hospital"
    return ""


def split_cents(total: float, weights: list[float]) -> list[float]:
    """Split hours by weight in whole hundredths so the parts sum exactly to ``total``.
    The last part (callers put the largest weight last) absorbs the rounding remainder."""
    cents = round(total * 100)
    w = np.asarray(weights, dtype=float)
    parts = np.round(cents * w / w.sum()).astype(int)
    parts[-1] = cents - parts[:-1].sum()
    return [int(p) / 100 for p in parts]


# ---------------------------------------------------------------- real data
def load_practices() -> gpd.GeoDataFrame:
    """The 271 active GP lists: drop the non-GP services and the Special Allocation Scheme."""
    df = pd.read_csv(RAW / "nel_gp_practices.csv", dtype={"pcn_code": str})
    active = df[df["status_code"] == "A"]
    keep = active[~active["org_code"].isin(NON_GP_SERVICES | SPECIAL_ALLOCATION)].copy()
    if keep["pcn_code"].isna().any() or keep["registered_patients"].isna().any():
        raise ValueError("a kept practice lacks a PCN or a list size")
    keep["registered_patients"] = keep["registered_patients"].astype(int)
    log.info("practices: %d active, %d kept", len(active), len(keep))
    points = gpd.points_from_xy(keep["lon"], keep["lat"])
    return gpd.GeoDataFrame(keep, geometry=points, crs=WGS84).sort_values("org_code")


def load_lsoas() -> gpd.GeoDataFrame:
    """LSOA polygons with mid-2020 population, IMD 2019 and TfL PTAL 2015, coordinates
    rounded to 6 dp."""
    g = gpd.read_file(RAW / "nel_lsoa11.geojson").to_crs(WGS84).rename(columns={
        "LSOA11CD": "lsoa_code", "LSOA11NM": "lsoa_name", "LAD11NM": "borough",
        "pop_mid2020_all": "population", "imd2019_decile": "imd_decile",
        "imd2019_rank": "imd_rank"})
    g["geometry"] = round_geometry(g.geometry)
    ptal = pd.read_csv(RAW / "nel_lsoa11_ptal2015.csv", dtype={"ptal_2015": str})
    g["ptal"] = g["lsoa_code"].map(ptal.set_index("lsoa11cd")["ptal_2015"])
    if g["ptal"].isna().any():
        raise ValueError("an LSOA has no PTAL 2015 band")
    return g.sort_values("lsoa_code").reset_index(drop=True)


def flag_records(practices: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """NHS-website records with a drop ``reason`` (keywords, or the record *is* a practice:
    practice-type name equal to a practice's within 500 m) and a ``colocated`` flag
    (same postcode as a practice or within 25 m of one)."""
    raw = pd.read_csv(RAW / "nel_health_sites.csv", dtype=str, keep_default_na=False)
    points = gpd.points_from_xy(raw["lon"].astype(float), raw["lat"].astype(float))
    recs = gpd.GeoDataFrame(raw, geometry=points, crs=WGS84)
    recs["reason"] = [exclusion_reason(*r) for r in
                      zip(recs["OrganisationName"], recs["Sector"], recs["ParentName"], strict=True)]
    dist = cdist(bng_xy(recs), bng_xy(practices))
    names = [{normalise(a), normalise(b)} for a, b in
             zip(practices["name"], practices["nhs_website_name"].fillna(""), strict=True)]
    for i, name in enumerate(recs["OrganisationName"]):
        near = np.flatnonzero(dist[i] <= SAME_NAME_M)
        if (not recs.at[i, "reason"] and PRACTICE_WORDS.search(name.lower())
                and any(normalise(name) in names[j] for j in near)):
            recs.at[i, "reason"] = "is_gp_practice: practice-type name equal to a practice's"
    recs["colocated"] = ((dist.min(axis=1) <= PRACTICE_COLOCATED_M)
                         | recs["Postcode"].isin(set(practices["postcode"])))
    return recs


def group_buildings(recs: gpd.GeoDataFrame) -> np.ndarray:
    """Building label per record: same postcode within 50 m; same normalised name within
    500 m; one name's words contained in the other's within 150 m ('Kenworthy Health
    Centre' / 'Kenworthy Road Health Centre'); within 150 m of an acute main record."""
    dist = cdist(bng_xy(recs), bng_xy(recs))
    post = recs["Postcode"].to_numpy()
    norm = np.array([normalise(n) for n in recs["OrganisationName"]])
    words = [set(n.split()) for n in norm]
    nested = np.array([[a <= b or b <= a for b in words] for a in words])
    acute = recs["OrganisationCode"].isin(list(ACUTE_SITES)).to_numpy()
    linked = (((post[:, None] == post[None, :]) & (dist <= SAME_BUILDING_M))
              | ((norm[:, None] == norm[None, :]) & (dist <= SAME_NAME_M))
              | (nested & (dist <= ACUTE_CAMPUS_M))
              | ((acute[:, None] | acute[None, :]) & (dist <= ACUTE_CAMPUS_M)))
    return connected_components(coo_matrix(linked), directed=False)[1]


def building_site(grp: pd.DataFrame, kind: str) -> dict:
    """One site from a building's records, named after a representative record: the acute
    main record, else a hospital-dataset record, else a building-like name, else an NHS
    trust code (R...), then the smallest ODS code."""
    def priority(r: pd.Series) -> tuple:
        name = r["OrganisationName"].lower()
        return (r["OrganisationCode"] not in ACUTE_SITES, r["dataset"] != "nhs_website_hospital",
                not (BUILDING_WORDS.search(name) and "medical cent" not in name),
                not r["OrganisationCode"].startswith("R"), r["OrganisationCode"])

    rep = min((r for _, r in grp.iterrows()), key=priority)
    names = " | ".join(grp["OrganisationName"]).lower()
    btype = next((t for t, pat in BUILDING_TYPES if pat.search(names)), "team_base")
    if (grp["dataset"] == "nhs_website_hospital").any():  # e.g. St Leonard's, Hackney
        btype = "community_hospital"
    codes = ";".join(sorted(grp["OrganisationCode"]))
    return {"site_id": rep["OrganisationCode"] or f"NHSW{rep['OrganisationID']}",
            "name": rep["OrganisationName"], "kind": kind, "pcn_code": "",
            "borough": rep["borough_name"], "ods_code": rep["OrganisationCode"],
            "postcode": rep["Postcode"], "building_type": "acute" if kind == "acute" else btype,
            "merged_records": len(grp), "geometry": rep.geometry, "record_codes": codes,
            "record_names": names,
            "source": f"real: NHS website Hospital/Clinics 2022-12 ({codes})"}


def curate_estate(practices: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Community and acute buildings from the NHS-website records, and the dropped records.

    A building that shares a site with a practice stays community estate only if one of
    its names marks a community building (health centre, clinic, hospital...); a building
    whose every name is a practice-type name is GP premises and is dropped.
    """
    recs = flag_records(practices)
    kept = recs[recs["reason"] == ""].copy()
    kept["building"] = group_buildings(kept)
    sites = []
    for _, grp in kept.groupby("building", sort=True):
        names = [n.lower() for n in grp["OrganisationName"]]
        community_name = any(BUILDING_WORDS.search(n) and "medical cent" not in n for n in names)
        if grp["OrganisationCode"].isin(list(ACUTE_SITES)).any():
            sites.append(building_site(grp, "acute"))
        elif all(PRACTICE_WORDS.search(n) for n in names):
            recs.loc[grp.index, "reason"] = "gp_premises: every name is a practice-type name"
        elif grp["colocated"].any() and not community_name:
            recs.loc[grp.index, "reason"] = "gp_premises: service record in a practice building"
        else:
            sites.append(building_site(grp, "community"))
    estate = gpd.GeoDataFrame(sites, geometry="geometry", crs=WGS84)
    dropped = recs.loc[recs["reason"] != "",
                       ["OrganisationCode", "OrganisationName", "Postcode", "reason"]]
    log.info("estate: %d NHS-website records -> %d buildings (%d records dropped)",
             len(recs), len(estate), len(dropped))
    return estate.sort_values("site_id").reset_index(drop=True), dropped


def load_registrations(practices: gpd.GeoDataFrame) -> pd.DataFrame:
    """Registered patients (July 2022) of the kept practices, summed to PCN x home LSOA.

    Every LSOA is kept, inside NEL or not, plus NO2011 (no LSOA recorded): patients living
    outside the dataset are counted in patients.csv and reported, never dropped.
    """
    raw = pd.read_csv(RAW / "nel_practice_lsoa_patients.csv", dtype={"lsoa11cd": str})
    pcn_of = practices.set_index("org_code")["pcn_code"]
    kept = raw[raw["practice_code"].isin(pcn_of.index)]
    table = (kept.assign(pcn_code=kept["practice_code"].map(pcn_of))
             .groupby(["pcn_code", "lsoa11cd"], as_index=False)["patients"].sum()
             .rename(columns={"lsoa11cd": "lsoa_code"}))
    table["patients"] = table["patients"].astype(int)
    log.info("registrations: %d practices, %d patients -> %d PCN x LSOA rows",
             kept["practice_code"].nunique(), int(table["patients"].sum()), len(table))
    return table.sort_values(["pcn_code", "lsoa_code"], ignore_index=True)


def assign_catchments(lsoas: gpd.GeoDataFrame, registrations: pd.DataFrame) -> np.ndarray:
    """PCN per LSOA: the PCN with the most registered patients living there (ties: the
    smaller code), the rule of estates_opt.inputs.patients.plurality_pcn. A PCN left with
    no LSOA takes the LSOA where most of its patients live (never happens with NEL)."""
    rows = registrations[registrations["lsoa_code"].isin(set(lsoas["lsoa_code"]))]
    rows = rows.sort_values(["lsoa_code", "patients", "pcn_code"],
                            ascending=[True, False, True], kind="stable")
    first = rows.drop_duplicates("lsoa_code").set_index("lsoa_code")["pcn_code"]
    if first.reindex(lsoas["lsoa_code"]).isna().any():
        raise ValueError("an LSOA has no registered patients of any NEL practice")
    assigned = first.reindex(lsoas["lsoa_code"]).to_numpy(dtype=object)
    for code in sorted(set(registrations["pcn_code"]) - set(assigned)):
        own = rows[rows["pcn_code"] == code].sort_values(["patients", "lsoa_code"],
                                                          ascending=[False, True])
        idx = int(np.flatnonzero(lsoas["lsoa_code"].to_numpy() == own["lsoa_code"].iloc[0])[0])
        log.warning("PCN %s had no plurality LSOA: given %s", code, lsoas.at[idx, "lsoa_code"])
        assigned[idx] = code
    return assigned


def build_premises(practices: gpd.GeoDataFrame, estate: gpd.GeoDataFrame,
                   lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Practices and estate in one table, each tagged with the catchment PCN it stands in."""
    prac = gpd.GeoDataFrame({
        "site_id": practices["org_code"], "name": practices["name"], "kind": "gp_practice",
        "pcn_code": practices["pcn_code"], "borough": practices["borough_name"],
        "ods_code": practices["org_code"], "postcode": practices["postcode"],
        "registered_patients": practices["registered_patients"], "building_type": "practice",
        "merged_records": 1, "source": "real: ODS epraccur 2022-06, list May 2022, PCN map "
        "Jan 2022; coordinates " + practices["coord_source"]}, geometry=practices.geometry)
    prem = pd.concat([prac, estate], ignore_index=True)
    if prem["site_id"].duplicated().any():
        raise ValueError("site ids collide between practices and estate")
    nearest = cdist(bng_xy(prem), bng_xy(lsoas)).argmin(axis=1)  # point-in-polygon fallback
    inside = gpd.sjoin(prem[["geometry"]], lsoas[["geometry"]], predicate="within")
    inside = inside[~inside.index.duplicated()]["index_right"].reindex(prem.index)
    prem["catchment_pcn_code"] = lsoas["pcn_code"].to_numpy()[inside.fillna(
        pd.Series(nearest, index=prem.index)).astype(int)]
    prem["registered_patients"] = prem["registered_patients"].astype("Int64")
    return prem.sort_values("site_id").reset_index(drop=True)


def dissolve_pcns(lsoas: gpd.GeoDataFrame, practices: gpd.GeoDataFrame,
                  registrations: pd.DataFrame) -> gpd.GeoDataFrame:
    """PCN catchment polygons with list totals, population, majority borough (by list) and
    how many of the PCN's registered patients live inside / outside the NEL LSOAs."""
    shapes = lsoas.dissolve(by="pcn_code", aggfunc={"population": "sum"}).sort_index()
    geoms = round_geometry(gpd.GeoSeries(shapely.make_valid(shapes.geometry.values),
                                         index=shapes.index, crs=WGS84))
    geoms = geoms.where(geoms.is_valid, geoms.buffer(0))
    out = practices.groupby("pcn_code").agg(
        pcn_name=("pcn_name", "first"), registered_patients=("registered_patients", "sum"),
        n_practices=("org_code", "size"))
    by_borough = (practices.groupby(["pcn_code", "borough_name"])["registered_patients"].sum()
                  .reset_index().sort_values(["registered_patients", "borough_name"],
                                             ascending=[False, True]))
    out["borough"] = by_borough.groupby("pcn_code")["borough_name"].first()
    out["population"] = shapes["population"]
    out["n_lsoas"] = lsoas["pcn_code"].value_counts()
    inside = registrations["lsoa_code"].isin(set(lsoas["lsoa_code"]))
    located = registrations[inside].groupby("pcn_code")["patients"].sum()
    out["patients_located"] = located.reindex(out.index).fillna(0).astype(int)
    out["patients_outside_area"] = (registrations[~inside].groupby("pcn_code")["patients"].sum()
                                    .reindex(out.index).fillna(0).astype(int))
    return gpd.GeoDataFrame(out.reset_index(), geometry=geoms.reindex(out.index).values, crs=WGS84)


def travel_km(lsoas: gpd.GeoDataFrame, premises: gpd.GeoDataFrame,
              registrations: pd.DataFrame) -> pd.DataFrame:
    """PCN x site travel: mean LSOA distance x circuity, weighted by where the PCN's
    registered patients live (as estates_opt.inputs.travel with weighting = "patients")."""
    km = cdist(bng_xy(lsoas), bng_xy(premises)) / 1000
    pos = pd.Index(lsoas["lsoa_code"]).get_indexer(registrations["lsoa_code"])
    rows = registrations.assign(pos=pos)
    rows = rows[(rows["pos"] >= 0) & (rows["patients"] > 0)]
    out = []
    codes = sorted(rows["pcn_code"].unique())
    for code in codes:
        own = rows[rows["pcn_code"] == code]
        w = own["patients"].to_numpy(dtype=float)
        out.append(CIRCUITY * (w / w.sum()) @ km[own["pos"].to_numpy()])
    return pd.DataFrame(out, index=codes, columns=premises["site_id"].to_numpy())


# ---------------------------------------------------------------- illustrative data
def draw_rooms(premises: pd.DataFrame) -> pd.DataFrame:
    """Room counts per site and room type (illustrative). Practices scale with list size
    (a consulting room per ~1,500 patients); community buildings by building type, plus a
    consulting room per extra merged record (more services recorded -> bigger building)."""
    rng = rng_for("rooms")
    rows = []
    for site in premises.itertuples():
        if site.kind == "gp_practice":
            n = site.registered_patients * rng.uniform(0.85, 1.15)
            rooms = [max(2, round(n / 1500)), max(1, round(n / 6000)),
                     int(n >= 10000) + int(n >= 20000), int(n >= 15000 and rng.random() < 0.3)]
        else:
            rooms = [int(rng.integers(lo, hi + 1)) for lo, hi in ROOM_RANGES[site.building_type]]
            rooms[0] += min(2, site.merged_records - 1) if site.kind == "community" else 0
        rows.append((site.site_id, *rooms))
    return pd.DataFrame(rows, columns=["site_id", *ROOM_TYPES]).set_index("site_id")


def choose_hubs(premises: pd.DataFrame, rooms: pd.DataFrame, travel: pd.DataFrame) -> dict:
    """One hub per PCN: the largest community health centre (by rooms) in its catchment that
    its population reaches within HUB_MAX_TRAVEL_KM, else its largest practice within it
    (else its most central practice).

    Community buildings come first so a hub adds rooms instead of relabelling a full
    practice; the reach test stops a big PCN (Havering South) getting a hub on its edge.
    """
    limit = HUB_MAX_TRAVEL_KM
    size = rooms.sum(axis=1)
    lists = premises.set_index("site_id")["registered_patients"]
    hubs: dict[str, str] = {}
    for code, km in travel.iterrows():
        cands = premises.loc[(premises["kind"] == "community")
                             & premises["building_type"].isin(HUB_BUILDING_TYPES)
                             & (premises["catchment_pcn_code"] == code), "site_id"]
        members = premises.loc[premises["pcn_code"] == code, "site_id"]
        ranked = sorted((s for s in cands if km[s] <= limit and s not in hubs.values()),
                        key=lambda s: (-size[s], km[s], s))
        ranked += sorted((s for s in members if km[s] <= limit), key=lambda s: (-lists[s], s))
        hubs[code] = ranked[0] if ranked else min(members, key=lambda s: (km[s], s))
    return hubs


def make_hubs(premises: pd.DataFrame, rooms: pd.DataFrame, hubs: dict, lists: pd.Series) -> None:
    """Turn the chosen buildings into kind pcn_hub (in place) with at least hub-sized rooms,
    scaled by network size (x list / 50,000, within 0.8-2) so big PCNs get big hubs."""
    rng = rng_for("hub_rooms")
    for code, sid in hubs.items():
        i = premises.index[premises["site_id"] == sid][0]
        premises.loc[i, ["kind", "pcn_code"]] = ["pcn_hub", code]
        premises.loc[i, "source"] += "; PCN hub chosen by build_nel.py rule"
        scale = float(np.clip(lists[code] / 50000, 0.8, 2.0))
        draw = [max(lo, round(rng.integers(lo, hi + 1) * scale)) for lo, hi in ROOM_RANGES["hub"]]
        rooms.loc[sid] = np.maximum(rooms.loc[sid].to_numpy(), draw)


def opening_bands(premises: pd.DataFrame, ea_sites: set[str]) -> dict[str, tuple[str, ...]]:
    """Bands each site is normally open (illustrative): weekday everywhere; the PCN's
    enhanced-access practice and every hub also evenings and Saturdays; about 25% of
    community sites evenings, 15% Saturdays, 3% Sundays; acute sites every band."""
    rng = rng_for("opening")
    bands: dict[str, tuple[str, ...]] = {}
    for site in premises.itertuples():
        if site.kind == "acute":
            bands[site.site_id] = BANDS
        elif site.kind == "pcn_hub" or site.site_id in ea_sites:
            bands[site.site_id] = ("weekday", "evening", "saturday")
        elif site.kind == "community":
            draws = rng.random(3)
            extra = [b for b, p, d in zip(BANDS[1:], (0.25, 0.15, 0.03), draws, strict=True)
                     if d < p]
            bands[site.site_id] = ("weekday", *extra)
        else:
            bands[site.site_id] = ("weekday",)
    return bands


# The cost model (README 3.9): what one room-hour of movable work costs the system, by kind
# of building, and why. The basis is written into capacity.csv and opening.csv
# (``cost_basis``); the ranges are illustrative judgements, not prices (no open source gives
# them), and `estates-opt robust` shows what changes if they are wrong.
COST_BASIS = {
    "community": "sunk_space_running_cost",  # rent and service charge paid used or not
    "pcn_hub": "shared_hub_running_cost",  # as community, plus the hub's booking and staff
    "gp_practice": "practice_displaced_own_work",  # a room-hour lent displaces the list's work
    "acute": "acute_opportunity_cost",  # a full hospital's room-hour displaces its own clinics
}
HOUR_COST_GBP = {"acute": (60, 80), "gp_practice": (35, 45), "pcn_hub": (20, 25),
                 "community": (12, 18)}


def site_costs(premises: pd.DataFrame) -> pd.DataFrame:
    """Marginal cost per room-hour and weekly cost of opening a shut band (illustrative).
    Acute rooms cost most (opportunity cost), then practices (displaced own-list work); hub
    and community rooms are already paid for (running cost only): ``COST_BASIS``."""
    rng = rng_for("costs")
    hour = HOUR_COST_GBP
    opening = {"gp_practice": (250, 450), "pcn_hub": (300, 600), "community": (300, 600),
               "acute": (0, 0)}
    rows = [(s.site_id, rng.uniform(*hour[s.kind]), rng.uniform(*opening[s.kind]))
            for s in premises.itertuples()]
    return pd.DataFrame(rows, columns=["site_id", "hour", "open"]).set_index("site_id")


def services_table() -> pd.DataFrame:
    """The movable services with their room type, bands, eligible site kinds, building types
    and travel limit."""
    return pd.DataFrame([
        {"service_id": sid, "name": name, "category": cat, "room_type": room,
         "bands": CATEGORY_RULES[cat][0], "site_kinds": CATEGORY_RULES[cat][1],
         "building_types": ";".join(SUITABLE_TYPES_BY_SERVICE.get(sid, SUITABLE_TYPES[cat])),
         "max_travel_km": CATEGORY_RULES[cat][2], "rate_hours_per_1000_per_week": rate,
         "movable_share": MOVABLE_SHARE.get(sid, 1.0),
         "provenance": CATEGORY_RULES[cat][3]} for sid, name, cat, room, rate in SERVICES])


def classify_buildings(premises: pd.DataFrame) -> pd.DataFrame:
    """Set each site's suitability ``building_type`` (in place) and return the decision log.

    Practices stay ``practice`` and acute hospitals ``acute``. A community building keeps its
    curation class ``community_hospital`` or ``health_centre`` unless its representative
    name marks a mental-health or children's service; a ``clinic`` or ``team_base`` becomes
    ``mental_health_base`` if any of its names (or an ERIC site type) marks mental health,
    ``childrens_centre`` if any marks a children's centre; hand overrides come last.
    """
    eric = pd.read_csv(RAW / "nel_health_site_types.csv", dtype=str, keep_default_na=False)
    eric_type = eric.set_index("site_code")["eric_site_type_latest"]
    overrides = pd.read_csv(BUILDING_TYPE_OVERRIDES, dtype=str, keep_default_na=False)
    override = overrides.set_index("site_id")
    rows = []
    for i, site in premises.iterrows():
        curation = site["building_type"]
        if curation in ("practice", "acute"):
            decided, rule = curation, "kind"
        else:
            names = str(site["record_names"])
            rep = str(site["name"]).lower()
            types = {eric_type.get(c, "") for c in str(site["record_codes"]).split(";")}
            eric_mh = next((t for t in sorted(types) if t.startswith(ERIC_MENTAL_HEALTH)), "")
            strong = curation in HUB_BUILDING_TYPES
            text = rep if strong else names
            if m := MENTAL_HEALTH_WORDS.search(text):
                decided, rule = "mental_health_base", f"name: '{m.group(0)}'"
            elif m := CHILDREN_WORDS.search(text):
                decided, rule = "childrens_centre", f"name: '{m.group(0)}'"
            elif eric_mh and not strong:
                decided, rule = "mental_health_base", f"ERIC site type: '{eric_mh}'"
            else:
                decided, rule = curation, "curation class (3.4 step 6)"
        if site["site_id"] in override.index:
            decided = override.at[site["site_id"], "building_type"]
            rule = f"override: {override.at[site['site_id'], 'reason']}"
        premises.at[i, "building_type"] = decided
        if site["kind"] != "gp_practice":
            rows.append({"site_id": site["site_id"], "name": site["name"], "kind": site["kind"],
                         "curation_class": curation, "building_type": decided, "rule": rule})
    log_table = pd.DataFrame(rows).sort_values("site_id", ignore_index=True)
    log.info("building types: %s", log_table["building_type"].value_counts().sort_index()
             .to_dict())
    return log_table


def demand_table(pcns: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    """Weekly movable hours per PCN and service: rate x registered patients / 1,000 x movable
    share, each step rounded to 2 dp the way pandas ``Series.round(2)`` does, so a reader
    recomputing it gets the same value. ``fixed_hours_per_week`` is the rest (the practices'
    own work), which capacity.csv carries as fixed work (``fixed_pcn_clinic_hours``)."""
    both = pcns[["pcn_code", "registered_patients"]].merge(services, how="cross")
    total = (both["rate_hours_per_1000_per_week"] * both["registered_patients"] / 1000).round(2)
    both["hours_per_week"] = (total * both["movable_share"]).round(2)
    both["fixed_hours_per_week"] = (total - both["hours_per_week"]).round(2)
    return both[["pcn_code", "service_id", "hours_per_week", "fixed_hours_per_week"]].sort_values(
        ["pcn_code", "service_id"], ignore_index=True)


def baseline_table(demand: pd.DataFrame, services: pd.DataFrame, premises: pd.DataFrame,
                   rooms: pd.DataFrame, hubs: dict, ea_sites: dict,
                   travel: pd.DataFrame) -> pd.DataFrame:
    """Today's allocation: PCN clinics in member practices with that room type, by list size
    (the hub if none has one); enhanced access in the PCN's evening/Saturday practice, by
    band capacity; outreach in the two nearest acute hospitals, inversely to travel."""
    svc = services.set_index("service_id")
    lists = premises.set_index("site_id")["registered_patients"]
    acute = list(premises.loc[premises["kind"] == "acute", "site_id"])
    rows = []
    for d in demand.itertuples():
        category, rt = svc.at[d.service_id, "category"], svc.at[d.service_id, "room_type"]
        if category == "pcn_clinic":
            members = [m for m in premises.loc[premises["pcn_code"] == d.pcn_code, "site_id"]
                       if pd.notna(lists[m]) and rooms.at[m, rt] > 0]
            parts = [("weekday", m, float(lists[m])) for m in members] or [
                ("weekday", hubs[d.pcn_code], 1.0)]
        elif category == "enhanced_access":
            ea = ea_sites[d.pcn_code]
            parts = [(b, ea, ROOM_HOURS[b] * rooms.at[ea, rt]) for b in ("evening", "saturday")]
        else:
            two = sorted(acute, key=lambda a: (travel.at[d.pcn_code, a], a))[:2]
            parts = [("weekday", a, 1.0 / travel.at[d.pcn_code, a]) for a in two]
        parts.sort(key=lambda p: (p[2], p[1], p[0]))
        shares = split_cents(d.hours_per_week, [p[2] for p in parts])
        rows += [{"pcn_code": d.pcn_code, "service_id": d.service_id, "site_id": site,
                  "band": band, "hours_per_week": h, "room_type": rt}
                 for (band, site, _), h in zip(parts, shares, strict=True)]
    return pd.DataFrame(rows).sort_values(["pcn_code", "service_id", "site_id", "band"],
                                          ignore_index=True)


def size_acute(rooms: pd.DataFrame, baseline: pd.DataFrame, premises: pd.DataFrame) -> None:
    """Resize acute outpatient rooms (in place) so outreach fills ~22-38% of their weekday
    time: every hospital is about full today, yet its other work fits under an 85% cap."""
    rng = rng_for("acute_rooms")
    week = baseline[baseline["band"] == "weekday"].groupby(["site_id", "room_type"])[
        "hours_per_week"].sum()
    for sid in premises.loc[premises["kind"] == "acute", "site_id"]:
        for rt, (lo, hi) in ACUTE_ROOM_LIMITS.items():
            rooms.at[sid, rt] = int(np.clip(round(week.get((sid, rt), 0.0)
                                                  / (40 * rng.uniform(0.22, 0.38))), lo, hi))


def utilisation_target(kind: str, band: str, rng: np.random.Generator) -> tuple[float, float]:
    """(target utilisation, floor of the fixed share) for one site x room type x band row.
    Weekday: practices and acute ~100% (at least 30% of it non-movable), hubs ~55%,
    community ~40%; evenings and weekends 30-50% where open."""
    if band != "weekday":
        return rng.uniform(0.30, 0.50), 0.0
    lo, hi, floor = {"gp_practice": (0.98, 1.06, 0.3), "acute": (0.97, 1.03, 0.3),
                     "pcn_hub": (0.50, 0.60, 0.0), "community": (0.33, 0.47, 0.0)}[kind]
    return rng.uniform(lo, hi), floor


def capacity_table(premises: pd.DataFrame, rooms: pd.DataFrame, bands: dict,
                   baseline: pd.DataFrame, costs: pd.DataFrame,
                   own_work: pd.DataFrame) -> pd.DataFrame:
    """Room-hours per open site x room type x band. Baseline comes first, then
    fixed = clip(target x capacity - baseline, max(floor x capacity, own), capacity), where
    own is the practice's non-movable PCN-clinic work (``own_work``), reported as
    ``fixed_pcn_clinic_hours``."""
    rng = rng_for("utilisation")
    base = baseline.groupby(["site_id", "room_type", "band"])["hours_per_week"].sum()
    own = own_work.groupby(["site_id", "room_type", "band"])["hours_per_week"].sum()
    rows = []
    for site in premises.itertuples():
        for band in bands[site.site_id]:
            for rt in ROOM_TYPES:
                n = int(rooms.at[site.site_id, rt])
                if n == 0:
                    continue
                cap = n * ROOM_HOURS[band]
                target, floor = utilisation_target(site.kind, band, rng)
                used = base.get((site.site_id, rt, band), 0.0)
                kept = float(own.get((site.site_id, rt, band), 0.0))
                fixed = round(float(np.clip(cap * target - used, max(floor * cap, kept), cap)), 2)
                rows.append({
                    "site_id": site.site_id, "room_type": rt, "band": band, "rooms": n,
                    "capacity_hours": cap, "fixed_hours": fixed,
                    "fixed_pcn_clinic_hours": round(min(kept, fixed), 2),
                    "cost_per_hour_gbp": round(costs.at[site.site_id, "hour"]
                                               * BAND_COST_FACTOR[band], 2),
                    "cost_basis": COST_BASIS[site.kind],
                    "provenance": ILLUSTRATIVE})
    return pd.DataFrame(rows)


def opening_table(premises: pd.DataFrame, rooms: pd.DataFrame, bands: dict,
                  costs: pd.DataFrame) -> pd.DataFrame:
    """Bands a non-acute site is shut in but could open, with the room-hours it would offer."""
    rows = []
    for site in premises[premises["kind"] != "acute"].itertuples():
        for band in (b for b in BANDS[1:] if b not in bands[site.site_id]):
            c = costs.loc[site.site_id]
            rows.append({
                "site_id": site.site_id, "band": band,
                "open_cost_gbp_per_week": round(c["open"] * (1.25 if band == "sunday" else 1), 2),
                "cost_per_hour_gbp": round(c["hour"] * BAND_COST_FACTOR[band], 2),
                **{f"{rt}_hours_if_opened": float(rooms.at[site.site_id, rt] * ROOM_HOURS[band])
                   for rt in ROOM_TYPES},
                "cost_basis": COST_BASIS[site.kind],
                "provenance": ILLUSTRATIVE})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- checks and report
def reachability(services: pd.DataFrame, demand: pd.DataFrame, premises: pd.DataFrame,
                 capacity: pd.DataFrame, opening: pd.DataFrame,
                 travel: pd.DataFrame) -> pd.DataFrame:
    """Per service: the worst PCN's travel to its nearest eligible site, and the lowest ratio
    of free eligible room-hours within the limit to the PCN's whole demand for that room
    type and bands. Free = cap x capacity - fixed where open (cap 85% for practices and
    acute, 90% for hubs and community, as models/nel_baseline.toml), cap x hours if opened
    where shut. Each PCN is judged alone: neighbours share the same rooms."""
    kind = premises.set_index("site_id")["kind"]
    caps = {"gp_practice": 0.85, "acute": 0.85, "pcn_hub": 0.9, "community": 0.9}
    shut = opening.melt(id_vars=["site_id", "band"], var_name="room_type", value_name="free",
                        value_vars=[f"{r}_hours_if_opened" for r in ROOM_TYPES])
    shut["room_type"] = shut["room_type"].str.removesuffix("_hours_if_opened")
    open_free = capacity["capacity_hours"] * capacity["site_id"].map(kind).map(caps) - capacity[
        "fixed_hours"]
    shut["free"] *= shut["site_id"].map(kind).map(caps)
    avail = pd.concat([capacity.assign(free=open_free), shut])[["site_id", "room_type", "band",
                                                                "free"]]
    need = demand.merge(services, on="service_id").groupby(
        ["pcn_code", "room_type", "bands"])["hours_per_week"].sum()
    rows = []
    for s in services.itertuples():
        ok = avail[(avail["room_type"] == s.room_type) & avail["band"].isin(s.bands.split(";"))
                   & avail["site_id"].map(kind).isin(s.site_kinds.split(";")) & (avail["free"] > 0)]
        free = ok.groupby("site_id")["free"].sum()
        dist = travel[free.index]
        nearest = dist.min(axis=1)
        ratio = ((dist <= s.max_travel_km).to_numpy() @ free.to_numpy()
                 / need.xs((s.room_type, s.bands), level=[1, 2]).reindex(travel.index).to_numpy())
        rows.append({"service_id": s.service_id, "max_km": s.max_travel_km,
                     "worst_pcn": nearest.idxmax(), "worst_nearest_km": round(nearest.max(), 2),
                     "pcns_out_of_reach": int((nearest > s.max_travel_km).sum()),
                     "min_free_to_demand": round(float(ratio.min()), 2),
                     "min_ratio_pcn": travel.index[int(ratio.argmin())]})
    return pd.DataFrame(rows)


def calibration(capacity: pd.DataFrame, baseline: pd.DataFrame, premises: pd.DataFrame,
                services: pd.DataFrame, demand: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Utilisation by kind x band, and weekday movable demand vs community+hub capacity."""
    base = baseline.groupby(["site_id", "room_type", "band"])["hours_per_week"].sum()
    cap = capacity.join(base.rename("baseline"), on=["site_id", "room_type", "band"])
    cap = cap.fillna({"baseline": 0.0}).assign(
        kind=capacity["site_id"].map(premises.set_index("site_id")["kind"]),
        fixed_over_85=capacity["fixed_hours"] > 0.85 * capacity["capacity_hours"])
    util = cap.groupby(["kind", "band"]).agg(
        capacity=("capacity_hours", "sum"), fixed=("fixed_hours", "sum"),
        baseline=("baseline", "sum"), rows=("site_id", "size"),
        share_fixed_over_85=("fixed_over_85", "mean"))
    util["utilisation"] = (util["fixed"] + util["baseline"]) / util["capacity"]
    moves = demand.merge(services, on="service_id").query("bands == 'weekday'")
    week = cap[cap["band"] == "weekday"]
    pool = week[week["kind"].isin(["community", "pcn_hub"])].groupby("room_type")
    gp = week[week["kind"] == "gp_practice"].groupby("room_type")
    rooms = pd.DataFrame({
        "movable_weekday_demand": moves.groupby("room_type")["hours_per_week"].sum(),
        "community_hub_capacity": pool["capacity_hours"].sum(),
        "community_hub_fixed": pool["fixed_hours"].sum() + pool["baseline"].sum(),
        "gp_baseline_share": gp["baseline"].sum() / gp["capacity_hours"].sum()},
    ).reindex(list(ROOM_TYPES))
    rooms["movable_to_capacity"] = rooms["movable_weekday_demand"] / rooms["community_hub_capacity"]
    return util.round(3), rooms.round(3)


def validate(premises: pd.DataFrame, capacity: pd.DataFrame, opening: pd.DataFrame,
             demand: pd.DataFrame, baseline: pd.DataFrame, lsoas: pd.DataFrame,
             pcns: pd.DataFrame) -> None:
    """Fail the build if an output breaks a rule of the input format."""
    ids = set(premises["site_id"])
    checks = {
        "unique site ids": premises["site_id"].is_unique,
        "every PCN has an LSOA": set(pcns["pcn_code"]) == set(lsoas["pcn_code"]),
        "known site ids": all(set(t["site_id"]) <= ids for t in (capacity, opening, baseline)),
        "0 <= fixed <= capacity": bool(capacity["fixed_hours"].between(
            0, capacity["capacity_hours"]).all()),
        "open xor openable": capacity[["site_id", "band"]].drop_duplicates()
        .merge(opening[["site_id", "band"]]).empty,
        "baseline in open rooms": len(baseline.merge(capacity[["site_id", "room_type", "band"]]))
        == len(baseline),
        "baseline sums to demand": baseline.groupby(["pcn_code", "service_id"])["hours_per_week"]
        .sum().round(2).reindex(pd.MultiIndex.from_frame(demand[["pcn_code", "service_id"]]))
        .to_numpy().tolist() == demand["hours_per_week"].tolist(),
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise AssertionError(f"dataset checks failed: {failed}")


# Floor area one bookable room takes (illustrative assumption, README 4: a generic clinic
# room of about 16 m2; diagnostics and group rooms larger).
ROOM_M2 = {"consulting": 16.0, "treatment": 16.0, "group": 30.0, "diagnostics": 20.0}


ACUTE_ERIC_CHECK_LOG = HERE / "curation" / "nel_acute_eric_check.csv"
#: Most of a hospital's clinical space the bookable outpatient rooms may take before the
#: illustrative room counts would be more than the building could hold.
ACUTE_ROOMS_MAX_SHARE = 0.25


def acute_floor_check(capacity: pd.DataFrame, premises: pd.DataFrame,
                      baseline: pd.DataFrame) -> pd.DataFrame:
    """Acute rooms in capacity.csv against ERIC 2016/17 site returns (SOURCES.md 9), one row
    per acute site, written to ``curation/nel_acute_eric_check.csv``:

    * floor area: the share of the site's clinical space the illustrative bookable rooms
      would take (``ROOM_M2`` each); above ``ACUTE_ROOMS_MAX_SHARE`` they would not fit;
    * use: the illustrative weekday utilisation today against the empty and under-used
      shares the trust reported (ERIC does not say a hospital is full);
    * cost: the trust's energy cost per m2 and what it comes to per room-hour, against the
      illustrative weekday room cost: running costs are a small part of what a room-hour
      is charged, so the acute charge is an opportunity cost, not a running cost (3.9).
    """
    eric = pd.read_csv(RAW / "nel_eric_sites.csv")
    eric = eric[(eric["year"] == "2016/17") & (eric["site_code"] != "AGGRE")].set_index("site_code")
    acute = premises.loc[premises["kind"] == "acute"].set_index("site_id")
    week = capacity[(capacity["band"] == "weekday") & capacity["site_id"].isin(acute.index)]
    area = (week["rooms"] * week["room_type"].map(ROOM_M2)).groupby(week["site_id"]).sum()
    used = baseline[baseline["band"] == "weekday"].groupby("site_id")["hours_per_week"].sum()
    per_site = week.groupby("site_id")
    table = pd.DataFrame({"rooms": per_site["rooms"].sum(), "rooms_m2": area})
    table.index.name = "site_id"
    table.insert(0, "name", acute["name"].reindex(table.index))
    table["eric_gross_internal_m2"] = eric["gross_internal_floor_area_m2"].reindex(table.index)
    table["eric_clinical_space_m2"] = eric["clinical_space_m2"].reindex(table.index)
    table["rooms_share_of_clinical"] = (table["rooms_m2"] / table["eric_clinical_space_m2"]).round(3)
    table["rooms_fit"] = table["rooms_share_of_clinical"] <= ACUTE_ROOMS_MAX_SHARE
    capacity_hours = per_site["capacity_hours"].sum()
    table["weekday_utilisation_today"] = (
        (per_site["fixed_hours"].sum() + used.reindex(table.index).fillna(0.0))
        / capacity_hours).round(3)
    table["eric_empty_pct"] = eric["floor_area_empty_pct"].reindex(table.index)
    table["eric_under_used_pct"] = eric["floor_area_under_used_pct"].reindex(table.index)
    table["eric_energy_cost_gbp"] = eric["energy_cost_gbp"].reindex(table.index)
    per_m2 = table["eric_energy_cost_gbp"] / table["eric_gross_internal_m2"]
    table["energy_gbp_per_m2_year"] = per_m2.round(2)
    # a room's floor area x energy per m2, over its 52 x 40 weekday room-hours a year
    table["energy_gbp_per_room_hour"] = (
        per_m2 * table["rooms_m2"] / table["rooms"] / (52 * ROOM_HOURS["weekday"])).round(3)
    cost = (week["cost_per_hour_gbp"] * week["capacity_hours"]).groupby(week["site_id"]).sum()
    table["room_cost_gbp_per_hour"] = (cost / capacity_hours).round(2)
    table["energy_share_of_room_cost"] = (
        table["energy_gbp_per_room_hour"] / table["room_cost_gbp_per_hour"]).round(4)
    return table.reset_index()


# ---------------------------------------------------------------- writers
def json_value(v: object) -> object:
    """JSON-safe scalar: numpy -> Python, NaN/NA -> null."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def write_geojson(gdf: gpd.GeoDataFrame, columns: list[str], name: str) -> None:
    """RFC 7946 FeatureCollection: one feature per line, 6 dp coordinates, fixed key order."""
    lines = [json.dumps({"type": "Feature",
                         "properties": {k: json_value(v) for k, v in rec.items()},
                         "geometry": shapely.geometry.mapping(geom)},
                        ensure_ascii=False, separators=(",", ":"))
             for rec, geom in zip(gdf[columns].to_dict("records"),
                                  round_geometry(gdf.geometry.to_crs(WGS84)), strict=True)]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    (OUT / name).write_text(text, encoding="utf-8")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV with LF line ends and floats to 2 dp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.2f")


def attribution_text() -> str:
    """The attribution block of SOURCES.md as plain text, so the dataset carries it."""
    block = (RAW / "SOURCES.md").read_text(encoding="utf-8").split(
        "## Attribution text", 1)[1].split("\n---", 1)[0]
    quoted = "\n".join(ln[1:].strip() for ln in block.splitlines() if ln.startswith(">"))
    return ("North East London estates dataset (estates-opt, geodata/nel): attribution\n\n"
            f"{quoted}\n\nRooms, opening hours, costs, utilisation, service rates and the "
            "baseline allocation are illustrative\n(synthetic, seeded); see geodata/README.md.\n")


# ---------------------------------------------------------------- main
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    OUT.mkdir(exist_ok=True)
    practices = load_practices()
    lsoas = load_lsoas()
    registrations = load_registrations(practices)
    lsoas["pcn_code"] = assign_catchments(lsoas, registrations)
    pcns = dissolve_pcns(lsoas, practices, registrations)
    estate, dropped = curate_estate(practices)
    premises = build_premises(practices, estate, lsoas)
    travel = travel_km(lsoas, premises, registrations)
    rooms = draw_rooms(premises)
    hubs = choose_hubs(premises, rooms, travel)
    make_hubs(premises, rooms, hubs, pcns.set_index("pcn_code")["registered_patients"])
    pcns["hub_site_id"] = pcns["pcn_code"].map(hubs)
    ea_sites = {c: g.sort_values(["registered_patients", "site_id"], ascending=[False, True])
                ["site_id"].iloc[0] for c, g in premises[premises["pcn_code"] != ""].groupby("pcn_code")}
    rng = rng_for("step_free")
    premises["step_free"] = [k in ("acute", "pcn_hub") or bool(
        rng.random() < (0.85 if k == "community" else 0.75)) for k in premises["kind"]]
    building_types = classify_buildings(premises)
    bands = opening_bands(premises, set(ea_sites.values()))
    costs = site_costs(premises)
    services = services_table()
    demand = demand_table(pcns, services)
    baseline = baseline_table(demand, services, premises, rooms, hubs, ea_sites, travel)
    own = demand[demand["fixed_hours_per_week"] > 0].drop(columns="hours_per_week").rename(
        columns={"fixed_hours_per_week": "hours_per_week"})
    own_work = baseline_table(own, services, premises, rooms, hubs, ea_sites, travel)
    demand = demand.drop(columns="fixed_hours_per_week")
    size_acute(rooms, baseline, premises)
    capacity = capacity_table(premises, rooms, bands, baseline, costs, own_work)
    opening = opening_table(premises, rooms, bands, costs)
    validate(premises, capacity, opening, demand, baseline, lsoas, pcns)

    write_geojson(premises, ["site_id", "name", "kind", "pcn_code", "borough", "ods_code",
                             "postcode", "registered_patients", "step_free", "source",
                             "merged_records", "building_type", "catchment_pcn_code"],
                  "premises.geojson")
    write_geojson(pcns, ["pcn_code", "pcn_name", "registered_patients", "borough", "population",
                         "n_practices", "n_lsoas", "patients_located", "patients_outside_area",
                         "hub_site_id"], "pcns.geojson")
    write_csv(registrations, OUT / "patients.csv")
    write_geojson(lsoas, ["lsoa_code", "lsoa_name", "borough", "population", "imd_decile",
                          "imd_rank", "ptal", "pcn_code"], "lsoas.geojson")
    boroughs = gpd.read_file(RAW / "nel_boroughs.geojson").rename(
        columns={"LAD22CD": "borough_code", "LAD22NM": "borough"}).sort_values("borough_code")
    write_geojson(boroughs, ["borough_code", "borough", "nel_priority", "area_km2"],
                  "boroughs.geojson")
    for name, table in (("capacity", capacity), ("opening", opening), ("services", services),
                        ("demand", demand), ("baseline", baseline.drop(columns="room_type"))):
        write_csv(table, OUT / f"{name}.csv")
    write_csv(dropped.sort_values("OrganisationCode"), CURATION_LOG)
    write_csv(building_types, BUILDING_TYPE_LOG)
    acute_check = acute_floor_check(capacity, premises, baseline)
    acute_check.to_csv(ACUTE_ERIC_CHECK_LOG, index=False, lineterminator="\n")
    (OUT / "ATTRIBUTION.txt").write_text(attribution_text(), encoding="utf-8")
    build_basemap()  # geodata/nel/basemap/: the maps' offline water, roads, rail and places
    report(premises, pcns, lsoas, capacity, opening, baseline, services, demand, travel)


def report(premises: pd.DataFrame, pcns: pd.DataFrame, lsoas: pd.DataFrame,
           capacity: pd.DataFrame, opening: pd.DataFrame, baseline: pd.DataFrame,
           services: pd.DataFrame, demand: pd.DataFrame, travel: pd.DataFrame) -> None:
    """Print the final summary: counts, calibration tables and the reachability check."""
    util, room_check = calibration(capacity, baseline, premises, services, demand)
    reach = reachability(services, demand, premises, capacity, opening, travel)
    hubs = premises[premises["kind"] == "pcn_hub"]
    practice_hubs = int(hubs["registered_patients"].notna().sum())
    week = capacity[capacity["band"] == "weekday"].merge(
        baseline.groupby(["site_id", "room_type", "band"], as_index=False)["hours_per_week"].sum(),
        how="left").fillna({"hours_per_week": 0.0})
    gp = week[week["site_id"].isin(premises.loc[premises["kind"] == "gp_practice", "site_id"])]
    per_site = gp.groupby("site_id")[["capacity_hours", "fixed_hours", "hours_per_week"]].sum()
    over = int((per_site["fixed_hours"] + per_site["hours_per_week"]
                > per_site["capacity_hours"]).sum())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"\nSites by kind: {premises['kind'].value_counts().sort_index().to_dict()}")
        print(f"Hubs: {len(hubs) - practice_hubs} community buildings, {practice_hubs} practices;"
              f" practices over-booked on weekdays today: {over} of {len(per_site)}")
        clinics = baseline[baseline["service_id"].map(services.set_index("service_id")["category"])
                           == "pcn_clinic"]
        in_practice = clinics["site_id"].map(premises.set_index("site_id")["kind"]) == "gp_practice"
        own = capacity["site_id"].map(premises.set_index("site_id")["kind"]) == "gp_practice"
        print(f"PCN-clinic hours in gp_practice sites: movable (baseline) "
              f"{clinics.loc[in_practice, 'hours_per_week'].sum():,.2f}, fixed (practices' own "
              f"list) {capacity.loc[own, 'fixed_pcn_clinic_hours'].sum():,.2f}")
        print(f"PCNs {len(pcns)}, LSOAs {len(lsoas)}, population {lsoas['population'].sum():,},"
              f" registered patients {pcns['registered_patients'].sum():,}")
        print("\nUtilisation = (fixed + baseline) / capacity, by kind x band:\n", util.to_string())
        print("\nWeekday movable demand (PCN clinics + outreach) vs community+hub capacity:\n",
              room_check.to_string())
        print("\nReachability (patient-weighted LSOA distance x 1.3):\n", reach.to_string(index=False))
        print("\nAcute rooms vs ERIC 2016/17 (curation/nel_acute_eric_check.csv):\n",
              acute_floor_check(capacity, premises, baseline).to_string(index=False))
        print(f"\nWrote {OUT}")


if __name__ == "__main__":
    main()
