"""Scenario files: strict parsing, errors naming key and file, ``extends``, documentation."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estates_opt.errors import ScenarioError
from estates_opt.scenario import Scenario, load_scenario, scenario_from_dict, unknown_keys

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SHIPPED = sorted(MODELS.glob("nel_*.toml"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_frozen():
    scenario = Scenario()
    assert scenario.caps.community == 0.90
    assert scenario.weights.imd_weight == 0.0
    assert scenario.solver.name == "highs"
    with pytest.raises(pydantic.ValidationError):
        scenario.name = "other"  # type: ignore[misc]


def test_baseline_loads_with_name_and_dataset():
    scenario = load_scenario(MODELS / "nel_baseline.toml")
    assert scenario.name == "nel_baseline"
    assert scenario.dataset_path() == ROOT / "geodata" / "nel"
    assert Path(scenario.source_file).is_absolute()


def test_name_defaults_to_file_stem(tmp_path):
    scenario = load_scenario(write(tmp_path / "my_case.toml", "[growth]\noverall = 1.1\n"))
    assert scenario.name == "my_case"
    assert scenario.growth.overall == 1.1


def test_unknown_top_level_key_names_key_and_file(tmp_path):
    path = write(tmp_path / "typo.toml", "grwoth = 1.2\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "grwoth" in message
    assert str(path) in message
    assert "growth" in message  # the suggestion


def test_unknown_nested_key_is_named_with_suggestion(tmp_path):
    path = write(tmp_path / "typo.toml", "[growth]\npopulaton = 1.2\n")
    with pytest.raises(ScenarioError, match=r"growth\.populaton.*growth\.population"):
        load_scenario(path)


def test_unknown_key_inside_array_of_tables(tmp_path):
    path = write(
        tmp_path / "typo.toml",
        '[[buildings.new]]\nsite_id = "N1"\nname = "n"\nkind = "community"\n'
        'lon = 0.0\nlat = 51.5\nrooms = {consulting = 1}\ncolour = "red"\n',
    )
    with pytest.raises(ScenarioError, match=r"buildings\.new\[0\]\.colour"):
        load_scenario(path)


def test_unknown_key_in_parent_names_the_parent_file(tmp_path):
    write(tmp_path / "base.toml", "[weights]\ntravle = 3\n")
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert "base.toml" in str(info.value)
    assert "weights.travle" in str(info.value)


def test_source_file_cannot_be_set_in_a_file(tmp_path):
    with pytest.raises(ScenarioError, match="source_file"):
        load_scenario(write(tmp_path / "s.toml", 'source_file = "x"\n'))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[caps]\ncommunity = 1.5\n", "caps.community"),
        ("[growth]\nby_service = {x = -1}\n", "growth.by_service"),
        (
            '[[pinned]]\npcn_code="P"\nservice_id="s"\nsite_id="x"\nband="night"\n'
            "hours_per_week=1\n",
            "pinned[0].band",
        ),
        ('[solver]\nname = "gurobi"\n', "solver.name"),
        ("[options]\nwhole_sessions = 3\n", "options.whole_sessions"),
        ('[options]\nopening_bands = ["noon"]\n', "options.opening_bands"),
        ('[[buildings.capacity]]\nsite_id="A"\nroom_type="kitchen"\n', "buildings.capacity[0]"),
        ('name = "../escape"\n', "name"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, key):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert key in str(info.value)
    assert str(path) in str(info.value)


def test_every_problem_of_a_scenario_is_reported_at_once(tmp_path):
    """Unknown keys (found while reading, also in the file extended) and bad values and
    types (found by validation), in different tables and a [[pinned]] row: one error."""
    write(tmp_path / "base.toml", "[weights]\ntravle = 2\n")
    path = write(
        tmp_path / "many.toml",
        'extends = "base.toml"\n'
        "grwoth = 1.2\n"
        "[caps]\ncommunity = 1.5\n"
        '[weights]\ncost = "high"\n'
        "[solver]\ntime_limit_s = true\n"
        '[[pinned]]\npcn_code = "P"\nservice_id = "s"\nsite_id = "x"\nband = "night"\n'
        "hours_per_week = -1\ncolour = 'red'\n",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = info.value.problems
    expected = {
        "'grwoth'": (path, "did you mean 'growth'"),
        "'weights.travle'": (tmp_path / "base.toml", "unknown key"),
        "'pinned[0].colour'": (path, "unknown key"),
        "'caps.community'": (path, "less than or equal to 1"),
        "'weights.cost'": (path, "number"),
        "'solver.time_limit_s'": (path, "true/false value"),
        "'pinned[0].band'": (path, "weekday"),
        "'pinned[0].hours_per_week'": (path, "greater than 0"),
    }
    assert len(problems) == len(expected), problems
    for key, (file, what) in expected.items():
        (line,) = [p for p in problems if key in p]
        assert line.startswith(f"{file}: ") and what in line, line
    assert "Traceback" not in str(info.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path / "broken.toml", "[growth\noverall = 1\n")
    with pytest.raises(ScenarioError, match=r"broken\.toml.*not valid TOML"):
        load_scenario(path)


def test_extends_merges_tables_and_replaces_lists(tmp_path):
    write(
        tmp_path / "base.toml",
        'name = "base"\ndescription = "the base"\n'
        "[growth]\noverall = 1.1\nby_service = {a = 2.0}\n"
        '[buildings]\nclose = ["X", "Y"]\n[caps]\ncommunity = 0.8\n',
    )
    write(
        tmp_path / "middle.toml",
        'extends = "base.toml"\n[growth]\npopulation = 1.2\nby_service = {b = 3.0}\n',
    )
    child = write(
        tmp_path / "child.toml",
        'extends = "middle.toml"\n[buildings]\nclose = ["Z"]\n[caps]\nacute = 0.7\n',
    )
    scenario = load_scenario(child)
    assert scenario.name == "child"  # name and description are not inherited
    assert scenario.description == ""
    assert scenario.growth.overall == 1.1
    assert scenario.growth.population == 1.2
    assert scenario.growth.by_service == {"a": 2.0, "b": 3.0}  # tables merge
    assert scenario.buildings.close == ["Z"]  # lists replace
    assert (scenario.caps.community, scenario.caps.acute) == (0.8, 0.7)


def test_extends_loop_is_an_error(tmp_path):
    write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="loop"):
        load_scenario(tmp_path / "a.toml")
    with pytest.raises(ScenarioError, match="loop"):
        load_scenario(write(tmp_path / "self.toml", 'extends = "self.toml"\n'))


def test_extends_missing_file_is_named(tmp_path):
    child = write(tmp_path / "child.toml", 'extends = "nowhere.toml"\n')
    with pytest.raises(ScenarioError, match=r"nowhere\.toml.*not found"):
        load_scenario(child)
    with pytest.raises(ScenarioError, match="must be a file name"):
        load_scenario(write(tmp_path / "num.toml", "extends = 3\n"))


def test_relative_paths_stay_relative_to_the_file_that_sets_them(tmp_path):
    write(tmp_path / "base" / "base.toml", 'dataset = "data"\n[travel]\nmatrix = "m.csv"\n')
    child = write(tmp_path / "other" / "deep" / "child.toml", 'extends = "../../base/base.toml"\n')
    scenario = load_scenario(child)
    assert scenario.dataset_path() == tmp_path / "base" / "data"
    assert scenario.matrix_path() == tmp_path / "base" / "m.csv"


def test_missing_file():
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario("models/does_not_exist.toml")


def test_round_trip_through_json_dump():
    scenario = load_scenario(MODELS / "nel_new_hub.toml")
    again = scenario_from_dict(scenario.model_dump(mode="json"))
    assert again == scenario


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_load_and_reference_the_dataset(path, nel_dataset):
    from estates_opt.inputs.changes import check_references

    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.description
    assert check_references(nel_dataset, scenario) == []


def test_required_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    required = {"nel_baseline", "nel_growth_2031", "nel_new_hub", "nel_equity"}
    assert required | {"nel_lp", "nel_evening_hubs"} <= names
    assert any(n.startswith("nel_close_") for n in names)
    assert load_scenario(MODELS / "nel_growth_2031.toml").growth.population == 1.18
    assert load_scenario(MODELS / "nel_baseline.toml").options.whole_sessions
    assert not load_scenario(MODELS / "nel_lp.toml").options.whole_sessions
    evening = load_scenario(MODELS / "nel_evening_hubs.toml").options
    assert evening.opening_decisions and evening.opening_bands == ["evening", "saturday"]


def _field_paths(model: type[pydantic.BaseModel], prefix: str = "") -> list[str]:
    from estates_opt.scenario import _model_of

    paths = []
    for name, info in model.model_fields.items():
        if name == "source_file":
            continue
        paths.append(prefix + name)
        sub, _ = _model_of(info.annotation)
        if sub is not None:
            paths += _field_paths(sub, "")
    return paths


def test_readme_documents_every_key():
    text = (MODELS / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", text)
    documented = {word for span in spans for word in re.findall(r"[a-z0-9_]+", span)}
    missing = [p for p in _field_paths(Scenario) if p not in documented]
    assert missing == []
    assert "extends" in documented


def test_unknown_keys_walks_nested_models():
    data = {"growth": {"overal": 1}, "buildings": {"new": [{"kind": "x", "zz": 1}]}, "a": 1}
    problems = unknown_keys(data)
    assert any("growth.overal" in p for p in problems)
    assert any("buildings.new[0].zz" in p for p in problems)
    assert any("'a'" in p for p in problems)


@settings(max_examples=40, deadline=None)
@given(
    overall=st.floats(0, 10, allow_nan=False),
    population=st.floats(0, 10, allow_nan=False),
    factors=st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.floats(0, 10)),
)
def test_growth_values_survive_toml(tmp_path_factory, overall, population, factors):
    body = ", ".join(f"{k} = {v!r}" for k, v in factors.items())
    text = f"[growth]\noverall = {overall!r}\npopulation = {population!r}\n"
    text += f"by_service = {{ {body} }}\n"
    path = write(tmp_path_factory.mktemp("h") / "g.toml", text)
    growth = load_scenario(path).growth
    assert (growth.overall, growth.population, growth.by_service) == (overall, population, factors)


def test_literal_bands_match_schema():
    from estates_opt.scenario import Band, RoomType, SiteKind
    from estates_opt.schema import BANDS, ROOM_TYPES, SITE_KINDS

    assert typing.get_args(Band) == BANDS
    assert typing.get_args(RoomType) == ROOM_TYPES
    assert typing.get_args(SiteKind) == SITE_KINDS


# --- HiGHS options: an allow-list, so a scenario can never make the solver write files ---


def _highs_option_names() -> list[str]:
    import highspy

    options = highspy.Highs().getOptions()
    return sorted(n for n in dir(options) if not n.startswith("_"))


FILE_OPTION = re.compile(r"file|write|read|log")


@pytest.mark.parametrize("key", [n for n in _highs_option_names() if FILE_OPTION.search(n)])
def test_every_highs_option_that_touches_files_or_logs_is_refused(key):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({"solver": {"highs_options": {key: "x"}}}, "s.toml")
    assert f"'{key}'" in str(err.value)
    assert "s.toml" in str(err.value)


def test_the_allow_list_names_only_real_harmless_highs_options():
    from estates_opt.scenario import ALLOWED_HIGHS_OPTIONS

    known = set(_highs_option_names())
    assert known >= ALLOWED_HIGHS_OPTIONS, ALLOWED_HIGHS_OPTIONS - known
    assert not [n for n in ALLOWED_HIGHS_OPTIONS if FILE_OPTION.search(n)]


def test_allowed_highs_options_pass_and_all_refused_keys_are_named_at_once():
    ok = scenario_from_dict({"solver": {"highs_options": {"presolve": "off", "random_seed": 3}}})
    assert ok.solver.highs_options == {"presolve": "off", "random_seed": 3}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(
            {"solver": {"highs_options": {"solution_file": "a", "time_limit": 1, "presolv": "on"}}}
        )
    text = str(err.value)
    assert "'solution_file'" in text
    assert "solver.time_limit_s" in text
    assert "did you mean 'presolve'" in text
