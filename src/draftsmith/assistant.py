"""The Python facade: one object that holds settings and a model and runs every operation.

from draftsmith import Assistant
a = Assistant(model="qwen2.5-0.5b")
print(a.correct("She go to school every day.").text)
"""

from __future__ import annotations

from typing import Any

from draftsmith.config import Settings, load_settings
from draftsmith.models.base import Model
from draftsmith.models.catalog import Progress
from draftsmith.models.loader import open_model
from draftsmith.writing import continuation, correct, generate, rewrite, summarize, translate
from draftsmith.writing.base import OnText, Result
from draftsmith.writing.correct import CorrectionResult
from draftsmith.writing.summarize import OutlineResult, TitleResult


class Assistant:
    """Runs writing operations on one model. The model opens on first use."""

    def __init__(
        self,
        model: str | Model | None = None,
        *,
        settings: Settings | None = None,
        progress: Progress | None = None,
        **overrides: Any,
    ):
        self.settings = settings or load_settings(**overrides)
        self._model = model if isinstance(model, Model) else None
        self._spec = None if isinstance(model, Model) else model
        self._progress = progress

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = open_model(self._spec, self.settings, self._progress)
        return self._model

    def write(
        self,
        instruction: str | None = None,
        *,
        template: str | None = None,
        variables: dict[str, Any] | None = None,
        length: int | None = None,
        style: str | None = None,
        lang: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_text: OnText | None = None,
        candidates: int = 1,
    ) -> Result:
        """``candidates``: with a style, drafts to choose from by adherence to it."""
        return generate.write(
            self.model,
            instruction,
            template=template,
            variables=variables,
            length=length,
            style=style,
            lang=lang or self.settings.language,
            temperature=temperature,
            default_temperature=self.settings.temperature,
            seed=self._seed(seed),
            max_tokens=max_tokens,
            on_text=on_text,
            candidates=candidates,
        )

    def rewrite(
        self,
        text: str,
        *,
        style: str,
        lang: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        on_text: OnText | None = None,
        candidates: int | None = None,
    ) -> Result:
        """``candidates``: drafts per piece chosen by adherence to the style (None: the operation's default)."""
        extra = {} if candidates is None else {"candidates": candidates}
        return rewrite.rewrite(
            self.model,
            text,
            style=style,
            lang=lang,
            temperature=temperature,
            seed=self._seed(seed),
            on_text=on_text,
            max_chars=self._limit,
            **extra,
        )

    def translate(
        self,
        text: str,
        *,
        to: str,
        source: str | None = None,
        glossary: dict[str, str] | None = None,
        on_text: OnText | None = None,
    ) -> Result:
        return translate.translate(
            self.model,
            text,
            to=to,
            source=source,
            glossary=glossary,
            on_text=on_text,
            max_chars=self._limit,
        )

    def correct(
        self, text: str, *, lang: str | None = None, speculative: bool = True, mode: str = "hybrid"
    ) -> CorrectionResult:
        model = None if mode == "detectors" else self.model  # the detectors need no model
        return correct.correct(model, text, lang=lang, speculative=speculative, max_chars=self._limit, mode=mode)

    def continue_text(
        self,
        text: str,
        *,
        words: int = 100,
        lang: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        on_text: OnText | None = None,
    ) -> Result:
        return continuation.continue_text(
            self.model,
            text,
            words=words,
            lang=lang,
            temperature=temperature,
            default_temperature=self.settings.temperature,
            seed=self._seed(seed),
            on_text=on_text,
            max_chars=self._limit,
        )

    def summarize(
        self,
        text: str,
        *,
        words: int = 80,
        lang: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        on_text: OnText | None = None,
    ) -> Result:
        return summarize.summarize(
            self.model,
            text,
            words=words,
            lang=lang,
            on_text=on_text,
            max_chars=self._limit,
            temperature=temperature,
            seed=self._seed(seed),
        )

    def outline(
        self,
        *,
        topic: str = "",
        text: str = "",
        sections: int = 5,
        lang: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        on_text: OnText | None = None,
    ) -> OutlineResult:
        return summarize.outline(
            self.model,
            topic=topic,
            text=text,
            sections=sections,
            lang=lang,
            on_text=on_text,
            max_chars=self._limit,
            temperature=temperature,
            seed=self._seed(seed),
        )

    def title(
        self,
        text: str,
        *,
        count: int = 5,
        lang: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        on_text: OnText | None = None,
    ) -> TitleResult:
        return summarize.title(
            self.model,
            text,
            count=count,
            lang=lang,
            on_text=on_text,
            max_chars=self._limit,
            temperature=temperature,
            seed=self._seed(seed),
        )

    @property
    def _limit(self) -> int:
        return self.settings.max_input_chars

    def _seed(self, value: int | None) -> int | None:
        return value if value is not None else self.settings.seed
