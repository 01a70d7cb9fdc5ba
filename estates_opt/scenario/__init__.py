"""Scenario files (``models/*.toml``) parsed into a frozen, strict pydantic model.

Unknown keys are errors, not silent defaults: a typo such as ``grwoth`` names
the key and the file it is in. ``extends = "other.toml"`` inherits another
scenario and overrides it key by key (tables merge recursively, lists
replace). Paths (``dataset``, ``travel.matrix``) are relative to the file that
sets them. References to the dataset (services, boroughs, sites, PCNs) are
checked by :func:`estates_opt.inputs.changes.check_references` once the dataset is read.
``models/README.md`` documents every key, unit and default.

The tables live in one module each (:mod:`.demand`, :mod:`.travel`, :mod:`.relocation`,
:mod:`.solver`, :mod:`.buildings`, :mod:`.services`), the whole :class:`Scenario` in
:mod:`.top_level`; reading files is :mod:`.loading`, validating data :mod:`.validation`,
what is left of a bad file :mod:`.partial`. Every name callers use is re-exported here.
"""

from __future__ import annotations

from estates_opt.scenario.base import Band as Band
from estates_opt.scenario.base import BuildingType as BuildingType
from estates_opt.scenario.base import RoomType as RoomType
from estates_opt.scenario.base import SiteKind as SiteKind
from estates_opt.scenario.buildings import Buildings
from estates_opt.scenario.buildings import CapacityChange as CapacityChange
from estates_opt.scenario.buildings import NewSite as NewSite
from estates_opt.scenario.buildings import OpeningChange as OpeningChange
from estates_opt.scenario.demand import Caps, Growth, Strategy, Weights
from estates_opt.scenario.keys import _model_of as _model_of
from estates_opt.scenario.keys import unknown_keys
from estates_opt.scenario.loading import load_scenario
from estates_opt.scenario.partial import PartialScenario as PartialScenario
from estates_opt.scenario.partial import ScenarioValuesError as ScenarioValuesError
from estates_opt.scenario.partial import partial_scenario as partial_scenario
from estates_opt.scenario.relocation import Contract as Contract
from estates_opt.scenario.relocation import Options
from estates_opt.scenario.relocation import Pin as Pin
from estates_opt.scenario.relocation import Relocation as Relocation
from estates_opt.scenario.services import Movable as Movable
from estates_opt.scenario.services import Suitability as Suitability
from estates_opt.scenario.solver import ALLOWED_HIGHS_OPTIONS as ALLOWED_HIGHS_OPTIONS
from estates_opt.scenario.solver import HIGHS_OPTIONS_SET_ELSEWHERE as HIGHS_OPTIONS_SET_ELSEWHERE
from estates_opt.scenario.solver import Solver
from estates_opt.scenario.top_level import NAME_PATTERN as NAME_PATTERN
from estates_opt.scenario.top_level import Scenario
from estates_opt.scenario.travel import PTAL_FACTORS as PTAL_FACTORS
from estates_opt.scenario.travel import PtalTravel as PtalTravel
from estates_opt.scenario.travel import Travel
from estates_opt.scenario.validation import MAX_DEPTH as MAX_DEPTH
from estates_opt.scenario.validation import NUMBER_ERRORS as NUMBER_ERRORS
from estates_opt.scenario.validation import hostile_values as hostile_values
from estates_opt.scenario.validation import scenario_from_dict
from estates_opt.schema import BANDS, SITE_KINDS

__all__ = [
    "BANDS",
    "SITE_KINDS",
    "Buildings",
    "Caps",
    "Growth",
    "Options",
    "Scenario",
    "Solver",
    "Strategy",
    "Travel",
    "Weights",
    "load_scenario",
    "scenario_from_dict",
    "unknown_keys",
]
