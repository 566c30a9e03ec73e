"""Turn a model name into an open Model: bundled names, GGUF paths, openai:, transformers:, fake."""

from __future__ import annotations

from pathlib import Path

from draftsmith import config
from draftsmith.config import Settings, load_settings
from draftsmith.errors import ModelError
from draftsmith.models import catalog
from draftsmith.models.base import Model
from draftsmith.models.catalog import Progress

_open: dict[tuple, Model] = {}


def describe_spec(spec: str) -> str:
    """What kind of model a name refers to, without opening it."""
    if spec.startswith("openai:"):
        return "openai-compatible server"
    if spec.startswith("transformers:"):
        return "transformers"
    if spec == "fake" or spec.startswith("fake:"):
        return "fake (testing)"
    if catalog.bundled(spec):
        return "bundled gguf"
    if _is_tuned(spec):
        return "tuned (LoRA)"
    return "gguf file"


def is_remote(spec: str) -> bool:
    """Whether a model name sends text off this machine: an openai: endpoint whose host is not loopback."""
    if not spec.startswith("openai:"):
        return False
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(spec[len("openai:") :].split("#", 1)[0]).hostname or "").lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def redacts(spec: str | None, settings: Settings) -> bool:
    """Whether personal data is masked before this model sees it (the ``redact_pii`` setting, auto by default)."""
    if settings.redact_pii == "auto":
        return is_remote((spec or settings.model).strip())
    return settings.redact_pii == "on"


def open_model(spec: str | None = None, settings: Settings | None = None, progress: Progress | None = None) -> Model:
    """``load_model`` behind PII masking when ``redacts`` says so: what the CLI and the Python API use.

    The masking wrapper keeps one table of placeholders for its lifetime, so the same value gets the same
    placeholder across calls (a server wraps per request instead: ``server/guards.py``)."""
    settings = settings or load_settings()
    model = load_model(spec, settings, progress)
    if not redacts(spec, settings):
        return model
    from draftsmith.safety.pii import RedactingModel

    return RedactingModel(model)


def resolve_gguf(spec: str, progress: Progress | None = None) -> Path:
    """The GGUF path for a bundled name, a pulled model's name, or a path."""
    model = catalog.bundled(spec)
    if model:
        return catalog.assemble(model, progress)
    local = catalog.local_models()
    if spec in local:
        return local[spec]
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelError(f"{path} is not a GGUF model file")
        return path
    names = ", ".join([*catalog.BUNDLED, *local])
    raise ModelError(
        f"unknown model {spec!r}; use a bundled name ({names}), a path to a .gguf file, "
        "openai:<base_url>[#model] or transformers:<path>"
    )


def load_model(spec: str | None = None, settings: Settings | None = None, progress: Progress | None = None) -> Model:
    """Open (once per process) the model a name refers to; ``None`` means the configured default."""
    settings = settings or load_settings()
    spec = (spec or settings.model).strip()
    if not spec:
        raise ModelError("no model named; pass --model or set DRAFTSMITH_MODEL")
    key = (spec, settings.n_ctx, settings.n_threads)
    if key in _open:
        return _open[key]
    model: Model
    if spec == "fake" or spec.startswith("fake:"):
        from draftsmith.models.fake import FakeModel

        model = FakeModel(spec[5:] or None)
    elif spec.startswith("openai:"):
        from draftsmith.models.openai_compat import OpenAICompatModel, parse_spec

        base_url, name = parse_spec(spec)
        model = OpenAICompatModel(
            base_url, name, api_key=settings.openai_api_key, timeout=settings.request_timeout, retries=settings.retries
        )
    elif spec.startswith("transformers:"):
        from draftsmith.models.transformers_backend import TransformersModel

        model = TransformersModel(spec[len("transformers:") :])
    elif not catalog.bundled(spec) and _is_tuned(spec):
        from draftsmith.finetune.registry import open_tuned

        model = open_tuned(spec, settings)
    else:
        from draftsmith.models.llamacpp import LlamaCppModel

        path = resolve_gguf(spec, progress)
        name = catalog.bundled(spec).name if catalog.bundled(spec) else spec
        cache = config.cache_dir() / "prefix-kv" if settings.prefix_cache else None
        model = LlamaCppModel(path, name=name, n_ctx=settings.n_ctx, n_threads=settings.n_threads, prefix_cache=cache)
    _open[key] = model
    return model


def _is_tuned(spec: str) -> bool:
    """A model fine-tuned with ``draftsmith finetune`` (``tuned:NAME`` or a registered NAME)."""
    from draftsmith.finetune.registry import is_tuned

    return is_tuned(spec)


def close_all() -> None:
    for model in _open.values():
        close = getattr(model, "close", None)
        if close:
            close()
    _open.clear()
