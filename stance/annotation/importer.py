"""A Label Studio export back into training data: one row per labelled task, conflicts set aside, agreement.

Each task with at least one vote becomes a row ``id, text, target, label`` (+ ``article_id``, ``source``,
``date``, ``position`` when its data has them, ``annotators``: who labelled it, ``votes``: how many gave the
label, ``n_annotations``). With several annotators the label is the majority; a tie is a **conflict**: it
is listed (and written to ``--conflicts``) but not labelled. Skipped or cancelled annotations, and ones
submitted without a stance, are counted and never become labels. Tasks with the same text and claim
(imported twice) are one row, their votes together. The rows pass ``stance data validate``; agreement is
measured by :func:`stance.annotation.agreement.measure`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..data.fields import is_missing, normalize_text
from ..errors import StanceError
from ..labels import LABELS
from .agreement import Agreement, describe, measure
from .labelstudio import TaskVotes, read_export

log = logging.getLogger(__name__)

KEPT = ("article_id", "source", "date", "position")  # task data carried into the training rows


@dataclass
class Conflict:
    id: str
    text: str
    target: str
    votes: dict[str, int]
    annotators: list[str]
    where: str


@dataclass
class ImportResult:
    rows: list[dict[str, Any]]
    conflicts: list[Conflict]
    agreement: Agreement
    tasks: int = 0  # in the export
    unannotated: int = 0  # no annotation at all
    skipped: int = 0  # tasks whose every annotation was skipped or cancelled
    cancelled: int = 0  # skipped or cancelled annotations
    empty: int = 0  # annotations submitted without a stance
    replaced: int = 0  # an annotator's earlier annotation of a task, superseded by a later one
    merged: int = 0  # tasks with the same text and claim as an earlier task, joined to it
    annotations: int = 0  # votes counted
    label_counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> list[str]:
        counts = ", ".join(f"{label} {n}" for label, n in self.label_counts.items())
        tasks = (
            f"{self.tasks} task(s): {len(self.rows)} labelled ({counts}), {len(self.conflicts)} conflict(s), "
            f"{self.skipped} skipped, {self.unannotated} not annotated"
        )
        votes = (
            f"{self.annotations} vote(s) by {len(self.agreement.annotators)} annotator(s); "
            f"{self.cancelled} skipped/cancelled and {self.empty} empty annotation(s) not counted"
            + (f"; {self.replaced} superseded by the same annotator" if self.replaced else "")
            + (f"; {self.merged} repeated task(s) joined" if self.merged else "")
        )
        lines = [tasks, votes, *describe(self.agreement)]
        for conflict in self.conflicts:
            votes = ", ".join(f"{label} {n}" for label, n in conflict.votes.items())
            lines.append(f"conflict: {conflict.where}: id {conflict.id!r}: {votes}: {conflict.text}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("rows")
        out["labelled"] = len(self.rows)
        return out


def _row_id(task: TaskVotes) -> str:
    raw = task.data.get("id")
    return str(raw) if not is_missing(raw) else f"ls-{task.task_id}"


def import_export(path: str | Path, *, from_name: str | None = None, target: str | None = None) -> ImportResult:
    """Turn a Label Studio JSON export into training rows, conflicts and agreement (module docstring)."""
    tasks = read_export(path, from_name=from_name, target=target)
    joined: dict[tuple[str, str], TaskVotes] = {}
    merged = 0
    for task in tasks:
        key = normalize_text(task.target), normalize_text(task.text)
        first = joined.get(key)
        if first is None:
            joined[key] = task
            continue
        merged += 1
        votes = dict(first.votes)
        for who, label in task.votes:
            first.replaced += who in votes
            votes[who] = label
        first.votes = list(votes.items())
        first.cancelled += task.cancelled
        first.empty += task.empty
        first.replaced += task.replaced
    ids: dict[str, str] = {}
    problems = []
    for task in joined.values():
        first = ids.setdefault(_row_id(task), task.where)
        if first != task.where:
            problems.append(f"{task.where}: data.id: {_row_id(task)!r} also names a different sentence at {first}")
    if problems:
        raise StanceError(f"{path}: cannot import the export: duplicate ids", problems)
    result = ImportResult([], [], measure([t.votes for t in joined.values()]), tasks=len(tasks), merged=merged)
    for task in joined.values():
        result.cancelled += task.cancelled
        result.empty += task.empty
        result.replaced += task.replaced
        result.annotations += len(task.votes)
        if not task.votes:
            if task.cancelled:
                result.skipped += 1
            else:
                result.unannotated += 1
            continue
        counts = Counter(label for _, label in task.votes)
        top = max(counts.values())
        leaders = [label for label in LABELS if counts[label] == top]
        annotators = [who for who, _ in task.votes]
        if len(leaders) > 1:
            votes = {label: counts[label] for label in LABELS if counts[label]}
            result.conflicts.append(Conflict(_row_id(task), task.text, task.target, votes, annotators, task.where))
            continue
        row = {"id": _row_id(task), "text": task.text, "target": task.target, "label": leaders[0]}
        row.update({k: task.data[k] for k in KEPT if not is_missing(task.data.get(k))})
        row.update({"annotators": annotators, "votes": top, "n_annotations": len(task.votes)})
        result.rows.append(row)
    result.label_counts = {label: sum(r["label"] == label for r in result.rows) for label in LABELS}
    log.info("%s: %d labelled row(s), %d conflict(s)", path, len(result.rows), len(result.conflicts))
    return result


def conflict_rows(result: ImportResult) -> list[dict[str, Any]]:
    """The conflicts as unlabelled rows (a pool or a file to adjudicate): id, text, target, votes."""
    return [
        {"id": c.id, "text": c.text, "target": c.target, "votes": c.votes, "annotators": c.annotators}
        for c in result.conflicts
    ]
