"""draftsmith: an offline-first AI writing assistant."""

from draftsmith.assistant import Assistant
from draftsmith.config import Settings, load_settings
from draftsmith.errors import ConfigError, DraftsmithError, InputError, ModelError, TemplateError
from draftsmith.models.base import Completion, GenParams, Message, Model
from draftsmith.models.loader import load_model
from draftsmith.writing.base import Result
from draftsmith.writing.correct import CorrectionResult
from draftsmith.writing.edits import Edit

__version__ = "0.1.0"

__all__ = [
    "Assistant",
    "Completion",
    "ConfigError",
    "CorrectionResult",
    "DraftsmithError",
    "Edit",
    "GenParams",
    "InputError",
    "Message",
    "Model",
    "ModelError",
    "Result",
    "Settings",
    "TemplateError",
    "__version__",
    "load_model",
    "load_settings",
]
