"""The draftsmith command line: one Typer app, one module per command group.

Errors are caught once, here, and shown as one line on stderr (``--debug`` shows the traceback).
"""

from __future__ import annotations

import sys

import typer

from draftsmith.errors import DraftsmithError

app = typer.Typer(
    name="draftsmith",
    help="Offline-first AI writing assistant: write, rewrite, translate, correct, continue, summarize.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug
    from draftsmith.feedback.personal import use_local

    ctx.call_on_close(use_local())  # check/correct skip the rules and words the user's feedback muted


def _register() -> None:
    from draftsmith.cli import config_cmd, models_cmd, ops, serve_cmd, templates_cmd

    ops.register(app)
    serve_cmd.register(app)
    app.add_typer(templates_cmd.app, name="templates")
    app.add_typer(models_cmd.app, name="models")
    app.add_typer(config_cmd.app, name="config")
    from draftsmith.cli import eval_cmd  # eval run/list/show/compare/report, optimize

    eval_cmd.register(app)
    from draftsmith.cli import users_cmd  # users and keys of a shared server

    users_cmd.register(app)
    from draftsmith.cli import style_cmd  # style list/show/learn/score/compare/remove

    style_cmd.register(app)
    from draftsmith.cli import check_cmd  # check (spelling/grammar problems), readability

    check_cmd.register(app)
    from draftsmith.cli import finetune_cmd  # finetune prepare/run/eval/export (LoRA on your own texts)

    finetune_cmd.register(app)
    from draftsmith.cli import suggest_cmd  # suggest next/words, profile learn/show/clear

    suggest_cmd.register(app)

    from draftsmith.cli import kb_cmd  # kb add/search/list/remove/stats, article

    kb_cmd.register(app)
    from draftsmith.cli import kg_cmd  # kg build/review/merge/split/add/remove/validate/show/query/export, factcheck

    kg_cmd.register(app)
    from draftsmith.cli import feedback_cmd  # feedback stats/export/purge/accept/reject/muted

    feedback_cmd.register(app)


_register()


def _error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turn every failure into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # Typer turns Ctrl-C into exit code 130 and, outside standalone mode, returns exit codes.
        code = app(args=argv, standalone_mode=False)
        if code == 130:
            sys.stdout.flush()
            _error("interrupted; nothing was written")
        return code if isinstance(code, int) else 0
    except DraftsmithError as exc:
        if debug:
            raise
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stdout.flush()
        _error("interrupted; nothing was written")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:  # typer's form of Ctrl-C (and of EOF at a prompt)
        sys.stdout.flush()
        _error("interrupted; nothing was written")
        return 130
    except typer.TyperException as exc:  # usage errors: bad option, missing argument (typer's own click)
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            _error(str(exc))
        return getattr(exc, "exit_code", 2)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an unexpected failure still gets one line
        if debug:
            raise
        _error(" ".join(f"{type(exc).__name__}: {exc}".split()) + " (run with --debug for the traceback)")
        return 1


def entry() -> None:
    sys.exit(main())
