"""draftsmith models: list, info, use, pull; quantize and compare (in quantize_cmd)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from draftsmith import config
from draftsmith.cli.common import err, out, print_json
from draftsmith.models import catalog

app = typer.Typer(help="Models: the bundled ones, local GGUF files, and remote servers.", no_args_is_help=True)


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List bundled and local models and show which one is the default."""
    from draftsmith.models.quantize import file_quant_type
    from draftsmith.models.quantize import lineage as quant_lineage

    default = config.load_settings().model
    rows: list[dict[str, Any]] = []
    for m in catalog.BUNDLED.values():
        target = config.model_cache_dir() / m.filename
        state = "assembled" if target.exists() else "installed" if catalog.installed(m) else "not installed"
        rows.append(
            {
                "name": m.name,
                "kind": "bundled",
                "state": state,
                "size_mb": round(m.size / 1e6),
                "quant": file_quant_type(target) if target.exists() else None,
                "description": m.description,
                "default": m.name == default,
            }
        )
    for name, path in catalog.local_models().items():
        made = quant_lineage(name)  # made by `models quantize`: its type and source
        rows.append(
            {
                "name": name,
                "kind": ("merged gguf" if made.merged else "quantized gguf") if made else "local gguf",
                "state": "ready",
                "size_mb": round(path.stat().st_size / 1e6),
                "quant": made.type if made else file_quant_type(path),
                "description": made.line() if made else str(path),
                "default": name == default,
                **({"lineage": made.model_dump()} if made else {}),
            }
        )
    from draftsmith.finetune import registry

    for tuned in registry.list_tuned():
        rows.append(
            {
                "name": tuned.name,
                "kind": "tuned (LoRA)",
                "state": "ready" if tuned.gguf else "transformers only",
                "size_mb": round(sum(f.stat().st_size for f in tuned.path.rglob("*") if f.is_file()) / 1e6, 1),
                "description": tuned.lineage(),
                "default": tuned.name == default,
                "lineage": tuned.model_dump(),
            }
        )
    if json_out:
        print_json(rows)
        return
    table = Table("", "name", "kind", "state", "MB", "quant", "description", box=None)
    for r in rows:
        table.add_row(
            "*" if r["default"] else "",
            r["name"],
            r["kind"],
            r["state"],
            str(r["size_mb"]),
            r.get("quant") or "",
            r["description"],
        )
    out.print(table)
    if not any(r["default"] for r in rows):
        out.print(f"default: {default}")


@app.command()
def info(
    name: str = typer.Argument(None, help="Model name (default: the configured one)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Open a model and show what it is (path, size, architecture, context window)."""
    from draftsmith.models.loader import load_model

    data = load_model(name).info()
    bundled = catalog.bundled(name or config.load_settings().model)
    if bundled:
        data.update({"sha256": bundled.sha256, "packages": f"{bundled.dist(1)}..{bundled.parts}=={bundled.version}"})
    if json_out:
        print_json(data)
        return
    for key, value in data.items():
        out.print(f"{key}: {value}")


@app.command()
def use(name: str = typer.Argument(..., help="Model to make the default.")) -> None:
    """Make a model the default (written to config.toml)."""
    from draftsmith.models.loader import describe_spec, resolve_gguf

    if describe_spec(name) in ("bundled gguf", "gguf file"):
        resolve_gguf(name)  # refuse a name that cannot be opened
    path = config.write_config_value("model", name)
    typer.echo(f"default model: {name} (in {path})")


@app.command()
def pull(
    repo: str = typer.Argument(..., help="Hugging Face repository, e.g. Qwen/Qwen2.5-3B-Instruct-GGUF."),
    filename: str = typer.Argument(..., help="GGUF file in that repository."),
) -> None:
    """Download a GGUF model from the Hugging Face hub (needs internet; never done implicitly)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(TextColumn("pulling"), BarColumn(), DownloadColumn(), console=err) as bar:
        task = bar.add_task("pull", total=None)
        path = catalog.pull(repo, filename, lambda done, total: bar.update(task, completed=done, total=total or None))
    typer.echo(f"saved {path}; use it with --model {path.stem}")


from draftsmith.cli import quantize_cmd  # noqa: E402 - models quantize, models compare

quantize_cmd.register(app)
