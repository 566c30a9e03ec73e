"""draftsmith config: show the effective settings and where they come from; set one."""

from __future__ import annotations

import typer
from rich.table import Table

from draftsmith import config
from draftsmith.cli.common import out, print_json

app = typer.Typer(
    help="Settings: config.toml in the config folder, overridden by DRAFTSMITH_* variables.", no_args_is_help=True
)


@app.command()
def show(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show every setting, its value and its source (default, file or env), and the folders in use."""
    settings = config.load_settings()
    sources = config.setting_sources()
    values = settings.model_dump()
    if values.get("openai_api_key"):
        values["openai_api_key"] = "***"
    paths = {
        "config_file": str(config.config_file()),
        "data_dir": str(config.data_dir()),
        "cache_dir": str(config.cache_dir()),
        "model_cache_dir": str(config.model_cache_dir()),
    }
    if json_out:
        print_json({"settings": values, "sources": sources, "paths": paths})
        return
    table = Table("setting", "value", "source", box=None)
    for key, value in values.items():
        table.add_row(key, repr(value), sources[key])
    out.print(table)
    for key, value in paths.items():
        out.print(f"{key}: {value}")


@app.command("set")
def set_(
    key: str = typer.Argument(..., help="Setting name."),
    value: str = typer.Argument(..., help="New value (TOML syntax for numbers and booleans)."),
) -> None:
    """Set one setting in config.toml."""
    import tomllib

    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    path = config.write_config_value(key, parsed)
    typer.echo(f"{key} = {parsed!r} written to {path}")


@app.command()
def path() -> None:
    """Print the config file's path."""
    typer.echo(str(config.config_file()))
