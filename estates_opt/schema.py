"""Canonical names, allowed values, dtypes and units of the public input format.

One glossary for the whole package (pvlib's variable map is the model): every
reader, validator and writer takes column names and rules from here, so a
column is renamed or re-typed in exactly one place. ``geodata/README.md``
documents the same format for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ROOM_TYPES: tuple[str, ...] = ("consulting", "treatment", "group", "diagnostics")
BANDS: tuple[str, ...] = ("weekday", "evening", "saturday", "sunday")
SITE_KINDS: tuple[str, ...] = ("gp_practice", "pcn_hub", "community", "acute")
#: What a site kind is called where people read it (the ids stay in the files).
SITE_KIND_LABELS: dict[str, str] = {
    "gp_practice": "GP practice",
    "pcn_hub": "PCN hub",
    "community": "Community site",
    "acute": "Acute hospital",
}
CATEGORIES: tuple[str, ...] = ("pcn_clinic", "outpatient_outreach", "enhanced_access")
#: What a service category is called where people read it.
CATEGORY_LABELS: dict[str, str] = {
    "pcn_clinic": "PCN clinics",
    "outpatient_outreach": "Outpatient outreach",
    "enhanced_access": "Enhanced access",
    "rehoused_fixed_work": "Rehoused fixed work",
}


#: What a band and a building type are called where people read them.
OTHER_LABELS: dict[str, str] = {
    "saturday": "Saturday",
    "sunday": "Sunday",
    "childrens_centre": "children's centre",
    "community_hospital": "community hospital",
    "health_centre": "health centre",
    "mental_health_base": "mental health base",
    "team_base": "team base",
}


def label_of(name: object) -> str:
    """A site kind's, service category's, band's or building type's name in words (any
    other id as it is)."""
    text = str(name)
    return SITE_KIND_LABELS.get(text) or CATEGORY_LABELS.get(text) or OTHER_LABELS.get(text) or text


#: TfL Public Transport Accessibility Level bands, 0 (worst) to 6b (best).
PTAL_BANDS: tuple[str, ...] = ("0", "1a", "1b", "2", "3", "4", "5", "6a", "6b")
#: What a building is, for which services it may host (premises ``building_type``, services
#: ``building_types``; geodata/README.md documents each).
BUILDING_TYPES: tuple[str, ...] = (
    "practice",
    "community_hospital",
    "health_centre",
    "clinic",
    "childrens_centre",
    "mental_health_base",
    "team_base",
    "acute",
)

#: Category of the services a scenario creates for the fixed work of a building it closes
#: or shuts in a band (not a category an input file may use).
REHOUSED_CATEGORY = "rehoused_fixed_work"
#: Reasons a closed room band gives in moves.csv.
CLOSURE_REASONS: dict[str, str] = {"close": "building closes", "shut": "building shut in this band"}

#: Length of one bookable session in each band, hours (DOMAIN.md "Units").
SESSION_HOURS: dict[str, float] = {"weekday": 4.0, "evening": 1.5, "saturday": 4.0, "sunday": 4.0}

#: Room-hours one room offers per week in each band.
ROOM_HOURS_PER_WEEK: dict[str, float] = {
    "weekday": 40.0,
    "evening": 7.5,
    "saturday": 8.0,
    "sunday": 8.0,
}

#: Enhanced-access bands under the October 2022 PCN contract (Network Standard Hours).
ENHANCED_ACCESS_BANDS: tuple[str, ...] = ("evening", "saturday")

#: Distances are measured in British National Grid metres.
PROJECTED_CRS = "EPSG:27700"
#: Web maps and GeoJSON inputs use WGS84 longitude/latitude.
GEOGRAPHIC_CRS = "EPSG:4326"

ColumnKind = Literal["str", "float", "int", "bool", "list"]

#: Upper bounds that refuse absurd numbers (a typo, 1e300) before they reach the solver, yet
#: are generous for England-scale real data (geodata/README.md lists them): room-hours or
#: hours per week in one row (a site's rooms of one type in one band; a PCN's service); GBP
#: per room-hour and per week; people or patients in one LSOA or PCN.
MAX_ROW_HOURS_PER_WEEK = 100_000.0
MAX_GBP_PER_ROOM_HOUR = 100_000.0
MAX_GBP_PER_WEEK = 10_000_000.0
MAX_PEOPLE = 10_000_000.0
#: Rooms of one type in one building (capacity.csv or a new building): more is a typo
#: (their hours would pass MAX_ROW_HOURS_PER_WEEK in a long band).
MAX_ROOMS = 1_000

#: The layers of a dataset's optional ``basemap/`` folder (``<layer>.geojson``, WGS84), in the
#: order the maps draw them, and the folder's licence note.
BASEMAP_FOLDER = "basemap"
BASEMAP_LAYERS: tuple[str, ...] = ("water", "roads", "rail", "stations", "places")


@dataclass(frozen=True)
class Column:
    """One column of an input file and the rule its values follow."""

    name: str
    kind: ColumnKind
    required: bool = True
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    #: The value must be above ``minimum``, not equal to it (a share of 0 means nothing).
    minimum_exclusive: bool = False
    maximum: float | None = None
    nullable: bool = False
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class FileSpec:
    """One input file: its name, format, key and columns."""

    name: str
    format: Literal["csv", "geojson"]
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    geometry_types: tuple[str, ...] = ()
    optional: bool = False
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    #: The canonical row order (default: the key); enumerated columns sort in their schema order.
    order: tuple[str, ...] = ()

    @property
    def sort_columns(self) -> tuple[str, ...]:
        """The columns giving the file's canonical row order: ``order`` if set, else the key."""
        return self.order or self.key

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Names of the columns the file must have."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The declared column called ``name``."""
        return next(c for c in self.columns if c.name == name)


PREMISES = FileSpec(
    name="premises.geojson",
    format="geojson",
    key=("site_id",),
    geometry_types=("Point",),
    description="one row per building",
    columns=(
        Column("site_id", "str", description="unique building id (ODS code where one exists)"),
        Column("name", "str"),
        Column("kind", "str", allowed=SITE_KINDS),
        Column("pcn_code", "str", nullable=True, description="PCN of a practice or hub"),
        Column("borough", "str", nullable=True),
        Column("step_free", "bool", required=False, nullable=True),
        Column(
            "building_type",
            "str",
            required=False,
            nullable=True,
            allowed=BUILDING_TYPES,
            description="what the building is; empty: unknown (fit only for unrestricted services)",
        ),
    ),
)

CAPACITY = FileSpec(
    name="capacity.csv",
    format="csv",
    key=("site_id", "room_type", "band"),
    order=("site_id", "band", "room_type"),
    description="one row per site x room type x band the site is open in",
    columns=(
        Column("site_id", "str"),
        Column("room_type", "str", allowed=ROOM_TYPES),
        Column("band", "str", allowed=BANDS),
        Column(
            "capacity_hours",
            "float",
            minimum=0,
            maximum=MAX_ROW_HOURS_PER_WEEK,
            unit="room-hours per week",
        ),
        Column(
            "fixed_hours",
            "float",
            minimum=0,
            maximum=MAX_ROW_HOURS_PER_WEEK,
            unit="room-hours per week",
        ),
        Column(
            "cost_per_hour_gbp",
            "float",
            minimum=0,
            maximum=MAX_GBP_PER_ROOM_HOUR,
            unit="GBP per room-hour",
        ),
        Column(
            "rooms",
            "int",
            required=False,
            minimum=0,
            maximum=MAX_ROOMS,
            nullable=True,
            unit="rooms",
            description="rooms of the type; capacity_hours is at most rooms x the band's "
            "room-hours (ROOM_HOURS_PER_WEEK)",
        ),
        Column(
            "fixed_pcn_clinic_hours",
            "float",
            required=False,
            minimum=0,
            maximum=MAX_ROW_HOURS_PER_WEEK,
            nullable=True,
            unit="room-hours per week",
            description="of fixed_hours, the practice's own-list PCN-clinic work that never moves",
        ),
        Column(
            "cost_basis",
            "str",
            required=False,
            nullable=True,
            description="what cost_per_hour_gbp stands for (NEL: geodata/README.md 3.9)",
        ),
    ),
)

OPENING = FileSpec(
    name="opening.csv",
    format="csv",
    key=("site_id", "band"),
    optional=True,
    description="one row per site x band the site is normally shut but could open",
    columns=(
        Column("site_id", "str"),
        Column("band", "str", allowed=BANDS),
        Column(
            "open_cost_gbp_per_week",
            "float",
            minimum=0,
            maximum=MAX_GBP_PER_WEEK,
            unit="GBP per week",
        ),
        Column(
            "cost_per_hour_gbp",
            "float",
            required=False,
            minimum=0,
            maximum=MAX_GBP_PER_ROOM_HOUR,
            nullable=True,
            unit="GBP per room-hour",
        ),
        Column(
            "cost_basis",
            "str",
            required=False,
            nullable=True,
            description="what cost_per_hour_gbp stands for (NEL: geodata/README.md 3.9)",
        ),
        *(
            Column(
                f"{r}_hours_if_opened",
                "float",
                minimum=0,
                maximum=MAX_ROW_HOURS_PER_WEEK,
                unit="room-hours per week",
            )
            for r in ROOM_TYPES
        ),
    ),
)

PCNS = FileSpec(
    name="pcns.geojson",
    format="geojson",
    key=("pcn_code",),
    geometry_types=("Polygon", "MultiPolygon"),
    description="one row per PCN catchment",
    columns=(
        Column("pcn_code", "str"),
        Column("pcn_name", "str"),
        Column("registered_patients", "float", minimum=0, maximum=MAX_PEOPLE, unit="patients"),
        Column("borough", "str", nullable=True),
        Column(
            "adjusted_patients",
            "float",
            required=False,
            minimum=0,
            maximum=MAX_PEOPLE,
            nullable=True,
            unit="patients",
            description="PCN adjusted population for enhanced access (default: registered)",
        ),
    ),
)

LSOAS = FileSpec(
    name="lsoas.geojson",
    format="geojson",
    key=("lsoa_code",),
    geometry_types=("Polygon", "MultiPolygon"),
    description="one row per LSOA",
    columns=(
        Column("lsoa_code", "str"),
        Column("population", "float", minimum=0, maximum=MAX_PEOPLE, unit="persons"),
        Column("imd_decile", "int", minimum=1, maximum=10, description="1 = most deprived 10%"),
        Column("pcn_code", "str"),
        Column(
            "ptal",
            "str",
            required=False,
            nullable=True,
            allowed=PTAL_BANDS,
            description="TfL PTAL band of the LSOA (2015 mean PTAI); for [travel.ptal]",
        ),
    ),
)

SERVICES = FileSpec(
    name="services.csv",
    format="csv",
    key=("service_id",),
    description="one row per service that can move",
    columns=(
        Column("service_id", "str"),
        Column("name", "str"),
        Column("category", "str", allowed=CATEGORIES),
        Column("room_type", "str", allowed=ROOM_TYPES),
        Column("bands", "list", allowed=BANDS),
        Column("site_kinds", "list", allowed=SITE_KINDS),
        Column("max_travel_km", "float", minimum=0, maximum=500, unit="km"),
        Column(
            "building_types",
            "list",
            required=False,
            nullable=True,
            allowed=BUILDING_TYPES,
            description="building types that may host the service; empty or absent: any",
        ),
        Column(
            "movable_share",
            "float",
            required=False,
            nullable=True,
            minimum=0,
            minimum_exclusive=True,  # share 0: no hours movable, and the whole unknowable
            maximum=1,
            unit="fraction",
            description="share of the service's hours that may move (demand.csv, baseline.csv); "
            "the rest is the practices' fixed work; empty or absent: 1",
        ),
    ),
)

DEMAND = FileSpec(
    name="demand.csv",
    format="csv",
    key=("pcn_code", "service_id"),
    description="one row per PCN x service",
    columns=(
        Column("pcn_code", "str"),
        Column("service_id", "str"),
        Column(
            "hours_per_week",
            "float",
            minimum=0,
            maximum=MAX_ROW_HOURS_PER_WEEK,
            unit="hours per week",
        ),
    ),
)

BASELINE = FileSpec(
    name="baseline.csv",
    format="csv",
    key=("pcn_code", "service_id", "site_id", "band"),
    description="today's allocation",
    columns=(
        Column("pcn_code", "str"),
        Column("service_id", "str"),
        Column("site_id", "str"),
        Column("band", "str", allowed=BANDS),
        Column(
            "hours_per_week",
            "float",
            minimum=0,
            maximum=MAX_ROW_HOURS_PER_WEEK,
            unit="hours per week",
        ),
    ),
)

PATIENTS = FileSpec(
    name="patients.csv",
    format="csv",
    key=("pcn_code", "lsoa_code"),
    optional=True,
    description="registered patients of each PCN by the LSOA they live in",
    columns=(
        Column("pcn_code", "str"),
        Column(
            "lsoa_code",
            "str",
            description="2011 LSOA code; codes outside lsoas (or NO2011) are counted, not located",
        ),
        Column("patients", "float", minimum=0, maximum=MAX_PEOPLE, unit="patients"),
    ),
)

BOROUGHS = FileSpec(
    name="boroughs.geojson",
    format="geojson",
    key=("borough",),
    geometry_types=("Polygon", "MultiPolygon"),
    optional=True,
    description="borough outlines, used by the maps only",
    columns=(Column("borough", "str"),),
)

INPUT_FILES: tuple[FileSpec, ...] = (
    PREMISES,
    CAPACITY,
    OPENING,
    PCNS,
    LSOAS,
    SERVICES,
    DEMAND,
    BASELINE,
    PATIENTS,
    BOROUGHS,
)
