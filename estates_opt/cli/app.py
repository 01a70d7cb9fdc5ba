"""The Typer app: its help, ``--version``, and the arguments and options commands share.

The command modules register themselves on :data:`app`; this module holds only what every
command's parsing has in common (defaults, ``--tiles``, ``--verbose``/``--quiet``) and the
help-text tweaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from estates_opt.cli.terminal import console

DEFAULT_DATASET = Path("geodata/nel")
DEFAULT_SCENARIO = Path("models/nel_baseline.toml")
#: One meaning of --maps in every command: the folder under which each scenario's maps go.
MAPS_HELP = "Maps folder: each scenario's maps go to MAPS/NAME/ (NAME = scenario name)."


def _tiles(value: str | None) -> str | None:
    """Refuse an unknown --tiles name before anything is solved or drawn."""
    if value is None:
        return None
    from estates_opt.outputs.maps.pages import check_tiles

    try:
        return check_tiles(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def output_path(value: str | Path) -> Path:
    """An --out or --maps folder as given; an empty one is refused, as an unset shell variable
    (``--out "$OUT"``) would otherwise mean the current folder and write the plan there."""
    if not str(value).strip():
        raise typer.BadParameter(
            "is empty (an unset shell variable?). Fix: give a folder name, or '.' to write "
            "into the current folder."
        )
    return Path(value)


Tiles = Annotated[
    str | None,
    typer.Option(
        "--tiles",
        callback=_tiles,
        help="Online background tiles under the offline basemap, for readers with a network "
        "(a Folium tile name, e.g. OpenStreetMap or CartoDB positron). Default: none, the "
        "pages load nothing from the internet.",
    ),
]
EXIT_CODES = (
    "Exit codes: 0 success; 1 solved but not optimal (time limit) or no feasible plan; "
    "2 bad input (dataset, scenario or arguments); 3 outputs could not be written (disk full); "
    "70 an internal error (a bug); 130 stopped by Ctrl-C. A run that fails or is stopped "
    "writes nothing."
)

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Reallocate NHS primary-care sessions into underused community estate, "
    "explain and map the plan.\n\n"
    "Example: `estates-opt solve models/nel_baseline.toml --out outputs/nel_baseline`\n\n"
    + EXIT_CODES,
)


#: Typer's type labels that read as Python rather than as what to type.
_TYPE_LABELS = {
    "<list[Path]>": "<path>...",
    "<Path>": "<path>",
    "<int range>": "<int>",
    "<float range>": "<number>",
}


def _flags_without_type() -> None:
    """Typer's rich help prints ``<bool>`` after every on/off flag (``--quiet <bool>``), which
    reads as if the flag took a value: show no type for flags, as click does. Python type
    names (``<list[Path]>``, ``<int range>``) are shown as what to type (``<path>...``)."""
    from typer.core import TyperArgument, TyperOption

    for kind in (TyperOption, TyperArgument):
        shown = kind.display_type_rich
        if getattr(shown, "_estates_opt", False):
            continue

        def display_type_rich(self: Any, ctx: Any, shown: Any = shown) -> str | None:
            if getattr(self, "is_flag", False):
                return None
            label = shown(self, ctx)
            return _TYPE_LABELS.get(label, label) if isinstance(label, str) else label

        display_type_rich._estates_opt = True  # type: ignore[attr-defined]
        kind.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_type()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("estates-opt")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "0.0.0"
        console.print(f"estates-opt {number}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Reallocate NHS primary-care sessions into underused community estate, explain and map
    the plan."""


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show every stage's log lines.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final line.")]
