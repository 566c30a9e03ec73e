"""The user-facing errors. Each message says what went wrong and what to do next.

Shells (CLI, HTTP) catch ``DraftsmithError`` once and show its message as one line.
"""


class DraftsmithError(Exception):
    """Base class of every error draftsmith reports to a user."""

    exit_code = 1


class InputError(DraftsmithError):
    """The user's text, file or option cannot be used as given."""

    exit_code = 2


class TemplateError(DraftsmithError):
    """A prompt template is malformed, unknown, or was given the wrong variables."""

    exit_code = 2


class ModelError(DraftsmithError):
    """A model is missing, corrupt, unreachable, or failed while generating."""

    exit_code = 3


class ConfigError(DraftsmithError):
    """The configuration file or an environment override is invalid."""

    exit_code = 2


class StoreError(DraftsmithError):
    """The store (SQLite file or database server) cannot be opened, migrated or written."""

    exit_code = 4
