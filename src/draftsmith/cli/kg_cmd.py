"""draftsmith kg: knowledge graphs built from knowledge bases (build, review, merge, split, add, remove, validate,
show, query, export, list) and ``draftsmith factcheck FILE --kg NAME``. Also ``write --kg`` (facts as [n])."""

from __future__ import annotations

from pathlib import Path

import typer

from draftsmith.cli.common import JsonOpt, ModelOpt, StageBar, err, out, print_json, warn
from draftsmith.errors import DraftsmithError, InputError

app = typer.Typer(
    help="Knowledge graphs: entities and relations from your documents, for write --kg and factcheck.",
    no_args_is_help=True,
)


def _store():
    from draftsmith.store import open_store

    return open_store()


class BuildInterrupted(DraftsmithError):
    exit_code = 130


@app.command()
def build(
    name: str = typer.Argument(..., help="Graph name (by default also the knowledge base it is built from)."),
    kb: str = typer.Option(None, "--kb", help="Knowledge base to build from (default: NAME)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Extract at most this many new passages this run."),
    examples: Path = typer.Option(
        None,
        "--examples",
        help='More worked examples, JSON lines {"text": ..., "triples": \\[\\[subject, relation, object], ...]}. '
        "Each passage is shown the 3 most similar (by meaning) of your validated facts, this file's examples and "
        "the bundled ones, which makes the model name relations your way.",
    ),
    no_examples: bool = typer.Option(
        False, "--no-examples", help="Show the model no worked examples (neither yours nor the bundled ones)."
    ),
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Extract entities and relations from a knowledge base's passages. Only new or changed passages are
    processed; interrupt with Ctrl-C at any time and run the same command to resume."""
    from draftsmith.cli.common import assistant
    from draftsmith.graph.build import build_graph
    from draftsmith.knowledge.embed import default_embedder

    embedder = default_embedder()
    if no_examples and examples is not None:
        raise InputError("give --examples FILE or --no-examples, not both")
    bank = None
    if not no_examples:
        from functools import partial

        from draftsmith.graph.examples import graph_bank, read_examples

        extra = []
        if examples is not None:  # read now, so a bad file is reported before any work
            extra, left_out = read_examples(examples)
            if left_out:
                n = len(extra) + left_out
                warn([f"{left_out} of {n} examples left out: a subject or object is not in its text"])
        bank = partial(graph_bank, extra=extra)  # opened when the first passage needs it
    bar = _Bar(enabled=err.is_terminal and not json_out)
    try:
        report = build_graph(
            _store(),
            name,
            lambda: assistant(model).model,
            kb=kb,
            on_progress=bar.update,
            embedder=embedder,
            limit=limit,
            examples=bank,
        )
    except KeyboardInterrupt:
        bar.stop()
        raise BuildInterrupted(
            f"interrupted; {bar.saved} passage(s) were saved to graph {name!r}: run the same command to resume"
        ) from None
    finally:
        bar.stop()
    if json_out:
        print_json(report)
        return
    err.print(
        f"{report.graph}: {report.processed} passage(s) extracted, {report.unchanged} unchanged, "
        f"{report.retracted_passages} gone; {report.triples_added} triple(s) added, {report.triples_retracted} "
        f"retracted; {report.skipped} skipped after a retry, {report.invalid_outputs} invalid answer(s); "
        f"{report.merged} merge(s), {report.review} to review; {report.seconds:.1f}s",
        soft_wrap=True,
    )
    if report.review:
        err.print(f"review the proposed merges with: draftsmith kg review {report.graph}")


class _Bar(StageBar):
    """Passages of the graph build, with the stage and the triples found so far."""

    def __init__(self, enabled: bool) -> None:
        super().__init__("kg build", enabled)

    def update(self, p) -> None:
        self.saved += p.stage == "saved"
        self.show(p.passages_total, p.passages_done, f"{p.stage}, {p.triples} triples")


@app.command(name="list")
def list_(json_out: bool = JsonOpt) -> None:
    """Graphs with their entity, triple and review counts."""
    from draftsmith.graph.graph import list_graphs

    graphs = list_graphs(_store())
    if json_out:
        print_json([g.model_dump() for g in graphs])
        return
    if not graphs:
        err.print("no knowledge graphs yet; build one with: draftsmith kg build KB_NAME")
    for g in graphs:
        typer.echo(
            f"{g.name}\t{g.entities} entities\t{g.triples} triples\t{g.validated} validated\t{g.review_open} to review"
        )


@app.command()
def review(
    name: str = typer.Argument(..., help="Graph name."),
    accept: int = typer.Option(None, "--accept", help="Merge the pair with this review id."),
    reject: int = typer.Option(None, "--reject", help="Reject the pair with this review id (not proposed again)."),
    json_out: bool = JsonOpt,
) -> None:
    """Merges the resolver was not sure about; accept or reject them (or use kg merge A B)."""
    from draftsmith.graph.merge import decide_review, review_queue

    store = _store()
    if accept is not None and reject is not None:
        raise InputError("give --accept or --reject, not both")
    if accept is not None or reject is not None:
        item = decide_review(store, name, accept if accept is not None else reject, accept is not None)
        if json_out:
            print_json(item)
        else:
            err.print(f"{item.status}: {item.keep.name!r} / {item.other.name!r}")
        return
    items = review_queue(store, name)
    if json_out:
        print_json([i.model_dump() for i in items])
        return
    if not items:
        err.print("nothing to review")
    for i in items:
        out.print(f"{i.id}\t{i.keep.name} ⟵ {i.other.name}\t{i.confidence:.2f}\t{i.reason}", markup=False)


@app.command()
def merge(
    name: str = typer.Argument(..., help="Graph name."),
    keep: str = typer.Argument(..., help="The entity that stays."),
    other: str = typer.Argument(..., help="The entity merged into it (its name becomes an alias)."),
    json_out: bool = JsonOpt,
) -> None:
    """Merge two entities: everything said about OTHER is now said about KEEP."""
    from draftsmith.graph.merge import merge_entities

    e = merge_entities(_store(), name, keep, other)
    if json_out:
        print_json(e)
    else:
        err.print(f"merged into {e.name!r}; aliases: {', '.join(a.alias for a in e.aliases)}")


@app.command()
def split(
    name: str = typer.Argument(..., help="Graph name."),
    entity: str = typer.Argument(..., help="The entity to split."),
    alias: str = typer.Argument(..., help="The alias that becomes an entity of its own again."),
    json_out: bool = JsonOpt,
) -> None:
    """Undo a merge: the alias becomes its own entity, with the facts extracted under that name."""
    from draftsmith.graph.merge import split_entity

    e = split_entity(_store(), name, entity, alias)
    if json_out:
        print_json(e)
    else:
        err.print(f"split {e.name!r} off {entity!r}")


TripleArg = typer.Argument(..., help="'subject | predicate | object', or a triple id (see kg show).")


def _print_triple(t, json_out: bool, what: str) -> None:
    if json_out:
        print_json(t)
    else:
        err.print(f"{what} #{t.id}: {t.text()} [{t.status}]", markup=False)


@app.command()
def add(
    name: str = typer.Argument(..., help="Graph name (created if new)."),
    triple: str = TripleArg,
    json_out: bool = JsonOpt,
) -> None:
    """Add a fact by hand; it is validated (a rebuild never changes or deletes it)."""
    from draftsmith.graph.graph import add_triple, parse_triple_ref

    parsed = parse_triple_ref(triple)
    if isinstance(parsed, int):
        raise InputError("kg add needs 'subject | predicate | object', not an id")
    _print_triple(add_triple(_store(), name, *parsed), json_out, "added")


@app.command()
def remove(
    name: str = typer.Argument(..., help="Graph name."), triple: str = TripleArg, json_out: bool = JsonOpt
) -> None:
    """Remove a fact; a rebuild will not extract it again."""
    from draftsmith.graph.graph import remove_triple

    _print_triple(remove_triple(_store(), name, triple), json_out, "removed")


@app.command()
def validate(
    name: str = typer.Argument(..., help="Graph name."), triple: str = TripleArg, json_out: bool = JsonOpt
) -> None:
    """Mark a fact as checked: re-extraction never overwrites or deletes it."""
    from draftsmith.graph.graph import validate_triple

    _print_triple(validate_triple(_store(), name, triple), json_out, "validated")


@app.command()
def show(
    name: str = typer.Argument(..., help="Graph name."),
    entity: str = typer.Argument(..., help="Entity name or alias."),
    json_out: bool = JsonOpt,
) -> None:
    """An entity: type, aliases, description, and every fact about it with ids and sources."""
    from draftsmith.graph.query import show_entity

    view = show_entity(_store(), name, entity)
    if json_out:
        print_json(view)
        return
    e = view.entity
    out.print(f"{e.name} ({e.type})", markup=False)
    others = [a.alias for a in e.aliases if a.alias != e.name]
    if others:
        out.print(f"  aliases: {', '.join(others)}", markup=False)
    if e.description:
        out.print(f"  {e.description}", markup=False)
    for t in view.outgoing + view.incoming:
        where = ", ".join(sorted({Path(s.source).name for s in t.sources if s.source}))
        out.print(f"  #{t.id} {t.text()}  [{t.status} {t.confidence:.2f}]{'  ' + where if where else ''}", markup=False)


@app.command()
def query(
    name: str = typer.Argument(..., help="Graph name."),
    entity: str = typer.Argument(..., help="Entity to start from."),
    to: str = typer.Option(None, "--to", help="Find paths from ENTITY to this entity."),
    depth: int = typer.Option(
        None,
        "--depth",
        min=1,
        max=4,
        help="Neighbourhood radius (default 1), or the longest path in facts (default 4).",
    ),
    limit: int = typer.Option(5, "--limit", min=1, max=50, help="How many paths."),
    json_out: bool = JsonOpt,
) -> None:
    """Neighbours of an entity, or paths between two (--to)."""
    from draftsmith.graph.query import find_paths, neighbours

    store = _store()
    if to:
        result = find_paths(store, name, entity, to, max_hops=depth or 4, limit=limit)
        if json_out:
            print_json(result)
        elif not result.paths:
            err.print(result.message)
        for p in [] if json_out else result.paths:
            out.print(" → ".join(f"[{t.subject} —{t.predicate}→ {t.object}]" for t in p.triples), markup=False)
        if not result.paths:
            raise typer.Exit(1)
        return
    facts = neighbours(store, name, entity, depth=depth or 1)
    if json_out:
        print_json([f.model_dump() for f in facts])
        return
    for t in facts:
        out.print(f"#{t.id} {t.text()}", markup=False)


@app.command()
def export(
    name: str = typer.Argument(..., help="Graph name."),
    fmt: str = typer.Option("json", "--format", "-f", help="graphml, json or cypher (loads into Neo4j)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
) -> None:
    """The whole graph as GraphML, JSON or Cypher statements."""
    from draftsmith.cli.io import write_atomic
    from draftsmith.graph.query import export_graph

    text = export_graph(_store(), name, fmt)
    if output:
        write_atomic(output, text)
        err.print(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


def factcheck(
    file: Path = typer.Argument(..., help="The text to check (UTF-8), or '-' for stdin.", show_default=False),
    kg: str = typer.Option(..., "--kg", help="Knowledge graph to check against."),
    kb: str = typer.Option(None, "--kb", help="Knowledge base whose passages are shown as evidence."),
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Each sentence: supported, contradicted or not found in the graph, with the evidence.
    Exit code 1 when a claim is contradicted."""
    from draftsmith.cli.common import assistant
    from draftsmith.cli.io import read_input
    from draftsmith.graph.factcheck import factcheck as run

    a = assistant(model)
    text = read_input(None if str(file) == "-" else file, a.settings.max_input_chars)
    with err.status("checking claims…", spinner="dots") if err.is_terminal and not json_out else _nothing():
        result = run(a.model, text, store=_store(), kg=kg, kb=kb)
    if json_out:
        print_json(result)
    else:
        marks = {
            "supported": "[green]supported[/]",
            "contradicted": "[red]contradicted[/]",
            "not_found": "[dim]not found[/]",
        }
        for c in result.claims:
            out.print(f"{marks[c.verdict]}  ", end="")
            out.print(c.claim, markup=False)
            for e in c.evidence:
                out.print(f"    {e.relation}: #{e.triple.id} {e.triple.text()}", markup=False)
            for p in c.passages:
                out.print(f"    passage: {p.where()} — {' '.join(p.text.split())[:160]}", markup=False)
        err.print(f"{result.supported} supported, {result.contradicted} contradicted, {result.not_found} not found")
    warn(result.warnings)
    if result.contradicted:
        raise typer.Exit(1)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def write_with_kg(
    a, instruction: str | None, kg: str, kb: str | None, json_out: bool, *, template: str | None = None, **options
) -> None:
    """``write --kg NAME [--kb NAME]``: facts about the request's entities as numbered, citable lines."""
    from draftsmith.graph.facts import kg_grounding
    from draftsmith.writing.grounded import write_grounded

    if template:
        raise InputError("--kg works with an instruction, not with --template")
    if not instruction:
        raise InputError("write --kg needs an instruction (what to write)")
    store = _store()
    retrieved = kg_grounding(store, kg, instruction, kb=kb)
    with err.status("writing from the graph's facts…", spinner="dots") if err.is_terminal else _nothing():
        result = write_grounded(a.model, instruction, store=store, kb=kb or f"kg:{kg}", retrieved=retrieved, **options)
    if json_out:
        print_json(result)
    else:
        typer.echo(result.text)
    warn(result.warnings)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="kg")
    root.command(name="factcheck")(factcheck)
