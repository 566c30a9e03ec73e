"""Privacy and safety: reversible PII masking (``pii``) and a small content policy (``content``)."""

from draftsmith.safety.content import ContentPolicy, Verdict, load_policy
from draftsmith.safety.pii import Finding, RedactingModel, Redactor, find_pii, scrub

__all__ = [
    "ContentPolicy",
    "Finding",
    "RedactingModel",
    "Redactor",
    "Verdict",
    "find_pii",
    "load_policy",
    "scrub",
]
