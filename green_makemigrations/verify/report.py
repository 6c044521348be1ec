"""The proof as people and pipelines read it: text, JSON, GitHub and GitLab annotations."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .proof import MIGRATION, Finding, Proof

if TYPE_CHECKING:
    from .exercise import Exercise

# Where a migration's file is, for annotations ("app_label.name" -> path), or None.
PathOf = Callable[[str], str | None]


def as_data(proof: Proof) -> dict[str, Any]:
    """Return the proof as plain data (the JSON format)."""
    return {
        "database": proof.database,
        "rollback": proof.rollback,
        "proven": proof.proven,
        "pre_deploy": proof.pre_deploy,
        "post_deploy": proof.post_deploy,
        "violations": [finding.as_dict() for finding in proof.findings],
        "not_proven": [
            {
                "stage": stage,
                "migration": item.migration,
                "operation_index": item.index,
                "operation": item.description,
                "reason": item.reason,
            }
            for stage, item in proof.unproven
        ],
        "accepted": [
            {"stage": stage, "migration": item.migration, "operation_index": item.index}
            for stage, item in proof.accepted
        ],
        "refused": proof.refusals,
        "caveats": [finding.as_dict() for finding in proof.caveats],
    }


def as_json(proof: Proof, exercise: Exercise | None = None) -> str:
    """Return the JSON report (with the "exercise" key when --exercise ran)."""
    data = as_data(proof)
    if exercise is not None:
        data["exercise"] = exercise.as_data()
    return json.dumps(data, indent=2)


def _headline(finding: Finding) -> str:
    where = finding.migration or "the final schema"
    if finding.operation:
        where = f"{where} ({finding.operation})"
    if finding.release == MIGRATION:
        return f"{where}, {finding.moment}: the migration stops on the table's rows"
    return f"{where}, {finding.moment}: the {finding.release} release breaks"


def as_text(proof: Proof) -> list[str]:
    """Return the report for people, one line per item."""
    doing = "Rolling back" if proof.rollback else "Pending"
    lines = [
        f"{doing} on database {proof.database!r}: "
        f"{len(proof.pre_deploy)} pre-deploy, {len(proof.post_deploy)} post-deploy migration(s)."
    ]
    for refusal in proof.refusals:
        lines.append(f"REFUSED: {refusal}")
    for finding in proof.findings:
        lines += [
            f"VIOLATION {_headline(finding)}:",
            f"  {finding.brk.problem} ({finding.brk.model}).",
            f"  Failing query: {finding.brk.query}",
            f"  Fix: {finding.fix}",
        ]
    for finding in proof.caveats:
        who = (
            "the migration stops on the table's rows"
            if finding.release == MIGRATION
            else f"the {finding.release} release"
        )
        lines += [
            f"CAVEAT {finding.migration or 'the final schema'}, {finding.moment}, {who}:",
            f"  {finding.brk.problem} ({finding.brk.model}).",
            f"  {finding.brk.fix}",
        ]
    for stage, item in proof.unproven:
        lines += [
            f"NOT PROVEN {item.migration}, operation {item.index} ({item.description}), {stage}:",
            f"  {item.reason}.",
        ]
    for stage, item in proof.accepted:
        lines.append(
            f"Accepted unproven: {item.migration}, operation {item.index} "
            f"({item.description}), {stage}."
        )
    if proof.proven:
        lines.append("Proven: every moment of the deploy serves every release running then.")
    else:
        count = len(proof.findings) + len(proof.unproven) + len(proof.refusals)
        lines.append(f"Not proven: {count} problem(s).")
    return lines


def _escape_github(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def exercise_as_text(exercise: Exercise) -> list[str]:
    """Return the exercise's section of the text report."""
    lines = [f"Exercise on scratch database {exercise.scratch!r}:"]
    if exercise.reason:
        lines.append(f"  {exercise.reason}")
    for moment in exercise.moments:
        lines.append(
            f"  {moment.moment}, the {moment.release} release: "
            f"{len(moment.exercised)} model(s) exercised."
        )
        for label, reason in moment.not_exercised:
            lines.append(f"    not exercised: {label} ({reason}).")
    for failure in exercise.failures:
        lines.append(f"FAILED {_exercise_headline(failure)}: {failure.error}: {failure.message}")
    if exercise.failures:
        lines.append(f"Exercise: {len(exercise.failures)} query(ies) failed.")
    elif exercise.ran:
        lines.append("Exercise: every query ran.")
    return lines


def _exercise_headline(failure: Any) -> str:
    if failure.operation == "migrate":
        return f"{failure.model or 'a migration'}, {failure.moment}: it does not apply"
    return f"{failure.model} {failure.operation}, {failure.moment}, the {failure.release} release"


def _exercise_annotations(exercise: Exercise | None) -> list[dict[str, Any]]:
    if exercise is None:
        return []
    return [
        {
            "migration": failure.model if failure.operation == "migrate" else None,
            "title": f"Exercise: {_exercise_headline(failure)}",
            "message": f"{failure.error}: {failure.message}",
            "check": "exercise",
        }
        for failure in exercise.failures
    ]


def as_github(proof: Proof, path_of: PathOf, exercise: Exercise | None = None) -> list[str]:
    """Return GitHub Actions workflow commands (``::error file=...::``), one per problem."""
    lines = []
    for item in _annotations(proof) + _exercise_annotations(exercise):
        path = path_of(item["migration"]) if item["migration"] else None
        where = f"file={_escape_github(path, property_value=True)},line=1," if path else ""
        title = _escape_github(item["title"], property_value=True)
        lines.append(f"::error {where}title={title}::{_escape_github(item['message'])}")
    return lines


def as_gitlab(proof: Proof, path_of: PathOf, exercise: Exercise | None = None) -> str:
    """Return a GitLab Code Quality report (a JSON list of issues)."""
    issues = []
    for item in _annotations(proof) + _exercise_annotations(exercise):
        path = (path_of(item["migration"]) if item["migration"] else None) or "manage.py"
        description = f"{item['title']}: {item['message']}"
        issues.append(
            {
                "description": description,
                "check_name": item["check"],
                "fingerprint": hashlib.sha256(f"{path}\0{description}".encode()).hexdigest(),
                "severity": "critical" if item["check"] != "not-proven" else "major",
                "location": {"path": path, "lines": {"begin": 1}},
            }
        )
    return json.dumps(issues, indent=2)


def _annotations(proof: Proof) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"migration": None, "title": "Stage refused", "message": refusal, "check": "refused"}
        for refusal in proof.refusals
    ]
    for finding in proof.findings:
        found.append(
            {
                "migration": finding.migration,
                "title": _headline(finding),
                "message": (
                    f"{finding.brk.problem} ({finding.brk.model}). Failing query: "
                    f"{finding.brk.query}\nFix: {finding.fix}"
                ),
                "check": finding.brk.rule,
            }
        )
    for stage, item in proof.unproven:
        found.append(
            {
                "migration": item.migration,
                "title": f"{item.migration}, operation {item.index}, {stage}: not proven",
                "message": f"{item.description}: {item.reason}.",
                "check": "not-proven",
            }
        )
    return found
