"""The services, room types and room costs every synthetic dataset uses."""

from __future__ import annotations

#: The service catalogue shared by every synthetic dataset (rates per 1,000 patients/week).
SERVICES = [
    (
        "pcn_diabetes",
        "Diabetes clinic",
        "pcn_clinic",
        "consulting",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        2.0,
    ),
    (
        "pcn_respiratory",
        "Respiratory clinic",
        "pcn_clinic",
        "consulting",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        1.0,
    ),
    (
        "pcn_phlebotomy",
        "Phlebotomy",
        "pcn_clinic",
        "treatment",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        1.5,
    ),
    (
        "pcn_group",
        "Group consultations",
        "pcn_clinic",
        "group",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        0.5,
    ),
    (
        "op_dermatology",
        "Dermatology outreach",
        "outpatient_outreach",
        "consulting",
        "weekday",
        "pcn_hub;community;acute",
        10.0,
        0.8,
    ),
    (
        "op_cardiology",
        "Cardiology outreach",
        "outpatient_outreach",
        "diagnostics",
        "weekday",
        "pcn_hub;community;acute",
        10.0,
        0.5,
    ),
    (
        "ea_access",
        "Enhanced access",
        "enhanced_access",
        "consulting",
        "evening;saturday",
        "gp_practice;pcn_hub;community",
        5.0,
        1.0,
    ),
]
SERVICE_COLUMNS = [
    "service_id",
    "name",
    "category",
    "room_type",
    "bands",
    "site_kinds",
    "max_travel_km",
    "rate",
]

#: Rooms of each type a site of each kind has: (low, high) inclusive.
ROOMS = {
    "gp_practice": {
        "consulting": (4, 9),
        "treatment": (1, 3),
        "group": (0, 2),
        "diagnostics": (0, 1),
    },
    "pcn_hub": {"consulting": (6, 14), "treatment": (2, 5), "group": (1, 3), "diagnostics": (1, 3)},
    "community": {
        "consulting": (3, 12),
        "treatment": (1, 4),
        "group": (1, 3),
        "diagnostics": (0, 3),
    },
    "acute": {
        "consulting": (20, 40),
        "treatment": (6, 14),
        "group": (2, 5),
        "diagnostics": (8, 16),
    },
}
#: Room cost by kind, GBP per room-hour: (low, high).
COST = {"gp_practice": (35, 45), "pcn_hub": (20, 25), "community": (12, 18), "acute": (60, 80)}
KIND_ORDER = ("gp_practice", "pcn_hub", "community", "acute")
#: Share of community sites that also open in the evening and on Saturday.
COMMUNITY_OUT_OF_HOURS = 0.3
