"""SARIF 2.1.0 output for the checker, written as results arrive so a large document streams.

One run; each result has the rule id (and its index in ``tool.driver.rules``), a level, the message, a region
(1-based line and column in Unicode code points, plus the character offset and length) and one fix per
suggestion. The rules that fired are listed after the results (JSON objects are unordered, so this is valid).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import metadata
from typing import Any, TextIO

from draftsmith.checking.problem import RULES, Problem

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def write_sarif(problems: Iterable[Problem], out: TextIO, uri: str) -> int:
    """Write a SARIF log of ``problems`` found in the artifact ``uri``; return how many there were."""
    rule_index: dict[str, int] = {}
    out.write(f'{{"$schema": "{SCHEMA}", "version": "2.1.0", "runs": [{{"columnKind": "unicodeCodePoints",\n')
    out.write(f' "artifacts": [{{"location": {{"uri": {json.dumps(uri)}}}}}],\n "results": [')
    count = 0
    for p in problems:
        index = rule_index.setdefault(p.rule_id, len(rule_index))
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(result(p, uri, index), ensure_ascii=False))
        count += 1
    out.write("\n ],\n")
    driver = {
        "name": "draftsmith",
        "version": _version(),
        "informationUri": "https://pypi.org/project/draftsmith/",
        "rules": [rule(r) for r in rule_index],
    }
    out.write(f' "tool": {{"driver": {json.dumps(driver, ensure_ascii=False)}}}}}]}}\n')
    return count


def result(p: Problem, uri: str, rule_index: int) -> dict[str, Any]:
    region = _region(p)
    out: dict[str, Any] = {
        "ruleId": p.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[p.severity],
        "message": {"text": p.message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "index": 0}, "region": region}}],
        "properties": {"category": p.category, "suggestions": p.suggestions},
    }
    if p.suggestion_id:  # the feedback id: draftsmith feedback accept|reject ID
        out["properties"]["suggestionId"] = p.suggestion_id
    if p.suggestions:
        out["fixes"] = [
            {
                "description": {"text": f"Replace with '{s}'"},
                "artifactChanges": [
                    {
                        "artifactLocation": {"uri": uri, "index": 0},
                        "replacements": [{"deletedRegion": region, "insertedContent": {"text": s}}],
                    }
                ],
            }
            for s in p.suggestions[:3]
        ]
    return out


def rule(rule_id: str) -> dict[str, Any]:
    info = RULES.get(rule_id)
    description = info.description if info else rule_id
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("_")),
        "shortDescription": {"text": description},
        "properties": {"category": info.category if info else "grammar", "language": info.lang if info else "en"},
    }


def _region(p: Problem) -> dict[str, Any]:
    newlines = p.flagged.count("\n")
    end_column = len(p.flagged) - p.flagged.rfind("\n") if newlines else p.column + len(p.flagged)
    return {
        "startLine": p.line,
        "startColumn": p.column,
        "endLine": p.line + newlines,
        "endColumn": end_column,
        "charOffset": p.start,
        "charLength": p.end - p.start,
        "snippet": {"text": p.flagged},
    }


def _version() -> str:
    try:
        return metadata.version("draftsmith")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
