"""The attacks of issue 12 as plain functions: each takes what it attacks (a ``Target``: a live server, its
store and its keys; or a library function) and returns ``Findings`` (how many checks ran, which failed).
pytest (``tests/security/test_*.py``) and ``bench/security_probes.py`` run the same functions."""

from .core import Findings, Keys, RouteInfo, Target, app_routes, provision

__all__ = ["Findings", "Keys", "RouteInfo", "Target", "app_routes", "provision"]
