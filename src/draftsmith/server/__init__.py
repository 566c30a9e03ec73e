"""draftsmith over HTTP: ``create_app`` builds the FastAPI app that ``draftsmith serve`` runs.

Needs the ``server`` extra (FastAPI, uvicorn, sse-starlette).
"""

from draftsmith.server.app import create_app
from draftsmith.server.state import ServerConfig, get_model

__all__ = ["ServerConfig", "create_app", "get_model"]
