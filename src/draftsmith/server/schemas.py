"""Request and response bodies of the HTTP API.

Responses of the operations are the operations' own result types (``Result``, ``CorrectionResult``,
``OutlineResult``, ``TitleResult``), so the API, ``--json`` and the Python API show one shape. Request
bodies forbid unknown fields, so a misspelt option fails loudly instead of being ignored. The OpenAI
bodies follow OpenAI's chat-completions format and ignore fields they do not know, as OpenAI clients expect.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from draftsmith.prompts.template import Variable

# -- errors -------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: str = Field(description="machine-readable kind, e.g. input_error, validation_error, busy")
    message: str = Field(description="what went wrong and what to do next")
    details: list[dict[str, Any]] | None = Field(None, description="per-field problems (validation errors)")


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all with the ErrorResponse body."""
    text = {
        400: "Unusable input (empty text, unknown language or style), or refused by the content policy",
        401: "No API key, or an unknown, revoked or expired one (see WWW-Authenticate)",
        403: "The key's user is disabled, or lacks the role",
        404: "No such object (or not the caller's)",
        409: "The document changed since base_version; details has the current version",
        413: "Request body too large",
        422: "Invalid field values, a template's variables are wrong, or the output was stopped by the content policy",
        429: "The model's queue is full, or the key's rate or the user's daily tokens are spent; see Retry-After",
        499: "The client disconnected and the operation was stopped",
        502: "The model failed while generating",
        503: "The model is loading or could not be opened; see Retry-After",
    }
    return {s: {"model": ErrorResponse, "description": text.get(s, "Error")} for s in statuses}


def event_stream(*events: str, data: str) -> dict[str, Any]:
    """The ``text/event-stream`` entry of a streamed answer. As Open API 3.1 tools read it (schemathesis does), its
    schema describes one event: its name (``message`` when the server sends none) and its data, a string."""
    event = {"type": "string", "enum": list(events)}
    schema = {
        "type": "object",
        "required": ["event", "data"],
        "properties": {"event": event, "data": {"type": "string", "description": data}},
    }
    return {"text/event-stream": {"schema": schema}}


# -- shared fields --------------------------------------------------------------------------------------

Lang = Annotated[str | None, Field(max_length=16, description="output language code (en, zh, ...); default: input's")]
Temperature = Annotated[float | None, Field(ge=0.0, le=2.0, description="sampling temperature")]
Seed = Annotated[int | None, Field(ge=-(2**63), le=2**63 - 1, description="sampling seed for repeatable output")]
Text = Annotated[str, Field(min_length=1, description="the input text")]
Name = Annotated[str, Field(min_length=1, max_length=64)]
Stream = Annotated[
    bool,
    Field(
        description='answer with Server-Sent Events: `token` events ({"text": delta}), then one `done` '
        "event with the result, or an `error` event"
    ),
]
TemplateValue = str | int | float | bool | list[str]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _OpRequest(_Request):
    redact_pii: bool = Field(
        False,
        description="mask e-mails, phone numbers, card numbers, IBANs, IP addresses, ID numbers and (unless the "
        "server turned it off) names of people before the model sees them; the answer has them back (the server "
        "may have it on for every request)",
    )


class WriteRequest(_OpRequest):
    instruction: str | None = Field(None, min_length=1, max_length=20_000, description="what to write")
    template: Name | None = Field(None, description="template name (see GET /api/templates)")
    variables: dict[str, TemplateValue] = Field(default_factory=dict, max_length=64, description="template variables")
    length: int | None = Field(None, ge=1, le=20_000, description="target length in words (characters for Chinese)")
    style: Name | None = None
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None
    max_tokens: int | None = Field(None, ge=1, description="hard cap on generated tokens")
    stream: Stream = False


class RewriteRequest(_OpRequest):
    text: Text
    style: Name | None = Field(
        None, description="academic, news, literary, marketing, casual, formal, concise, or a user style"
    )
    profile_id: str | None = Field(
        None, min_length=1, max_length=64, description="or one of your learned profiles (POST /api/styles/profiles)"
    )
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None
    stream: Stream = False


class TranslateRequest(_OpRequest):
    text: Text
    to: str = Field(min_length=1, max_length=16, description="target language code")
    source: str | None = Field(None, max_length=16, description="source language code (default: detected)")
    glossary: dict[str, str] = Field(default_factory=dict, max_length=1000, description="fixed translations")
    stream: Stream = False


class CorrectRequest(_OpRequest):
    text: Text
    lang: Lang = None


class ContinueRequest(_OpRequest):
    text: Text
    words: int = Field(100, ge=1, le=5000, description="about how many words to add")
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None
    stream: Stream = False


class SummarizeRequest(_OpRequest):
    text: Text
    words: int = Field(80, ge=5, le=2000, description="about how long the summary is")
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None
    stream: Stream = False


class OutlineRequest(_OpRequest):
    topic: str = Field("", max_length=2000, description="what the piece is about")
    text: str = Field("", description="source material (optional with topic)")
    sections: int = Field(5, ge=1, le=20)
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None


class TitleRequest(_OpRequest):
    text: Text
    count: int = Field(5, ge=1, le=20, description="how many headline options")
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None


class DocumentCreate(_Request):
    title: str = Field("Untitled", min_length=1, max_length=500)
    text: str = Field("", description="the first version's text")


class DocumentSave(_Request):
    text: str = Field(description="the new version's full text")
    base_version: int = Field(ge=1, description="the version this text was edited from (409 if it is not current)")
    title: str | None = Field(None, min_length=1, max_length=500, description="a new title (default: unchanged)")
    note: str | None = Field(None, max_length=500, description="what changed, kept in the history")


class DocumentSummary(BaseModel):
    id: str
    title: str
    version: int
    updated_at: float


class TemplateInfo(BaseModel):
    name: str
    task: str
    category: str
    description: str
    languages: list[str]
    source: str = Field(description="builtin, or user (a file in the data folder)")
    variables: dict[str, Variable]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    model: str


# -- OpenAI-compatible ------------------------------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class ChatMessageIn(_Lenient):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(_Lenient):
    include_usage: bool = False


class JsonSchemaFormat(_Lenient):
    name: str = "output"
    schema_: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class ChatCompletionRequest(_Lenient):
    model: str = Field("", max_length=256, description="any name: this server serves one model")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=2048)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1, description="only 1 is supported")
    stop: str | list[Annotated[str, Field(max_length=256)]] | None = Field(None, max_length=16)
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="accepted, not used")
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="accepted, not used")
    response_format: ResponseFormat | None = None
    top_k: int | None = Field(None, ge=0, le=1000, description="llama.cpp extension")
    repeat_penalty: float | None = Field(None, ge=0.0, le=10.0, description="llama.cpp extension")
    user: str | None = Field(None, max_length=256)
    redact_pii: bool = Field(False, description="draftsmith extension: mask personal data before the model sees it")


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: str | None


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "draftsmith"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- check, readability, suggestions ---------------------------------------------------------------------------

SessionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the editor's id for one open document; suggestions keep their state per session (and user)",
    ),
]


class CheckRequest(_Request):
    text: Text
    lang: Lang = None
    disabled: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=200, description="rule ids to skip"
    )


class CheckResponse(BaseModel):
    problems: list[Any] = Field(
        description="problems in order: start and end (character offsets), flagged, rule_id, category, "
        "message, suggestions, severity, certain, line, column, suggestion_id (for POST /v1/feedback)"
    )


class ReadabilityRequest(_Request):
    text: Text
    lang: Lang = None


class SuggestNextRequest(_Request):
    session: SessionId
    text: str = Field(max_length=200_000, description="the document")
    cursor: int | None = Field(None, ge=0, le=200_000, description="characters before the cursor (default: the end)")
    n: int = Field(3, ge=1, le=5, description="how many suggestions")
    max_tokens: int = Field(8, ge=1, le=64, description="longest suggestion, in tokens")
    lang: Lang = None


class SuggestCancelRequest(_Request):
    session: SessionId


class SuggestCancelled(BaseModel):
    session: str
    cancelled: bool = Field(description="whether the session existed (its generation in flight, if any, stops)")


class SuggestWordsRequest(_Request):
    phrase: str = Field(min_length=1, max_length=200)
    context: str | None = Field(None, max_length=2000, description="the sentence the phrase is in")
    lang: Lang = None
    n: int = Field(10, ge=1, le=50)
    use_llm: bool = Field(True, description="also ask the model (off: synonym lists only)")


# -- knowledge bases -----------------------------------------------------------------------------------------------

KbName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]


class KbCreate(_Request):
    name: KbName


class KbDocumentOut(BaseModel):
    name: str = Field(description="the stored name the server gave the upload (use it to remove the document)")
    title: str
    format: str
    chunks: int
    chars: int
    bytes: int
    updated_at: float


class KbOut(BaseModel):
    name: str
    embed_model: str
    documents: int = 0
    chunks: int = 0
    created_at: float
    documents_list: list[KbDocumentOut] = Field(default_factory=list)


class KbUploadOut(BaseModel):
    kb: str
    name: str = Field(description="the generated name the document is stored under (never the client's)")
    status: Literal["added", "updated", "unchanged"]
    chunks: int


class KbSearchRequest(_Request):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(5, ge=1, le=50)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"


class KbPassageOut(BaseModel):
    document: str = Field(description="the stored name of the document")
    title: str
    where: str
    text: str
    score: float


class KbWriteRequest(_OpRequest):
    instruction: str = Field(min_length=1, max_length=20_000)
    passages: int = Field(6, ge=1, le=20, description="how many passages to retrieve")
    length: int | None = Field(None, ge=1, le=20_000)
    style: Name | None = None
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None
    max_tokens: int | None = Field(None, ge=1)
    stream: Stream = False


class KgWriteRequest(_OpRequest):
    instruction: str = Field(min_length=1, max_length=20_000, description="what to write; the names it mentions")
    kb: KbName | None = Field(None, description="one of your knowledge bases: its best passages come first")
    passages: int = Field(6, ge=1, le=20, description="how many passages to retrieve (with kb)")
    length: int | None = Field(None, ge=1, le=20_000)
    style: Name | None = None
    lang: Lang = None
    temperature: Temperature = None
    seed: Seed = None
    max_tokens: int | None = Field(None, ge=1)
    stream: Stream = False


# -- styles ----------------------------------------------------------------------------------------------------------


class StyleInfo(BaseModel):
    name: str
    kind: str = Field(description="preset, user preset or learned (server-wide; usable by rewrite)")
    description: str


class ProfileInfo(BaseModel):
    id: str
    name: str
    language: str
    texts: int
    created_at: float


class StyleList(BaseModel):
    styles: list[StyleInfo]
    profiles: list[ProfileInfo] = Field(description="the caller's own learned profiles")


class StyleScoreRequest(_Request):
    text: Text
    style: Name | None = Field(None, description="a style name (see GET /api/styles)")
    profile_id: str | None = Field(None, max_length=64, description="or one of the caller's learned profiles")


class StyleLearnRequest(_Request):
    name: Name
    samples: list[Annotated[str, Field(min_length=1, max_length=200_000)]] = Field(
        min_length=5, max_length=200, description="five or more sample texts written in the style"
    )
    description: str | None = Field(None, max_length=1000)


# -- evaluation runs -------------------------------------------------------------------------------------------------


class EvalStart(_Request):
    task: Literal["correct", "translate", "rewrite", "summarize", "write", "continue"]
    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=100, description="the data set inline (the JSONL fields of 'draftsmith eval run')"
    )
    metrics: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=16)
    template: Name | None = None
    lang: Lang = None
    to: str | None = Field(None, max_length=16)
    style: Name | None = None
    words: int | None = Field(None, ge=1, le=5000)
    name: str | None = Field(None, max_length=200)


class EvalCompare(_Request):
    runs: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=2, max_length=5)
    metrics: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=16)
    samples: int = Field(1000, ge=100, le=5000)
    seed: int = Field(12345, ge=0, le=2**31 - 1)


class EvalDifference(BaseModel):
    run: str
    metric: str
    base: float
    other: float
    delta: float
    low: float
    high: float
    p: float
    items: int


class EvalComparison(BaseModel):
    base: str
    metrics: list[str]
    differences: list[EvalDifference]
