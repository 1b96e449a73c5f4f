"""Label Studio both ways: the labeling config, a tasks file it imports as it is, and reading its JSON export.

A task is ``{"data": {...}, "predictions": [{"model_version", "score", "result": [...]}]}``: ``data`` holds
the sentence (``text``), its claim (``target``), the sentences around it (``context_before``,
``context_after``), its id and article columns, and the model's uncertainty; the prediction is the model's
label as a pre-annotation. :func:`labeling_config` shows the claim, the context and the sentence, and offers
the three labels (hotkeys 1-3) with their one-line definitions (:data:`stance.labels.DEFINITIONS`) under a
``<Choices name="stance" toName="text">`` control, the names every result item carries.

A JSON export (Export → JSON) lists the tasks with ``annotations[]``: each has ``completed_by`` (a user id,
or an object with it), ``was_cancelled`` (a skipped task) and ``result[]`` items
``{"from_name", "to_name", "type": "choices", "value": {"choices": [...]}}``. :func:`read_export` checks it
all and returns each task's votes; every problem is reported at once as ``file:task N (id X): field: what``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from ..data.fields import is_missing
from ..data.formats import Problems, not_utf8
from ..errors import StanceError
from ..labels import DEFINITIONS, LABELS, describe_aliases, normalize_label
from ..layout import atomic_write_text

if TYPE_CHECKING:
    from .select import Picked

FROM_NAME = "stance"  # the <Choices> control
TO_NAME = "text"  # the <Text> it labels
EXPORT_HINT = "export the project from Label Studio as JSON (Export → JSON), not JSON-MIN, CSV or a tasks file"


def labeling_config() -> str:
    """The labeling config (XML) that matches the tasks of :func:`to_tasks`."""
    choices = "\n".join(
        f'    <Choice value={quoteattr(label)} hotkey="{i}" hint={quoteattr(DEFINITIONS[label])}/>'
        for i, label in enumerate(LABELS, 1)
    )
    definitions = "\n".join(
        f'    <Header value={quoteattr(f"{label}: {DEFINITIONS[label]}")} size="6"/>' for label in LABELS
    )
    return f"""<View>
  <Header value="Claim" size="5"/>
  <Text name="target" value="$target"/>
  <Header value="Context" size="6"/>
  <Text name="context_before" value="$context_before"/>
  <Header value="Sentence to label: the stance it conveys toward the claim" size="5"/>
  <View style="border-left: 4px solid #1f77b4; padding-left: 8px">
    <Text name="{TO_NAME}" value="${TO_NAME}"/>
  </View>
  <Text name="context_after" value="$context_after"/>
  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" required="true" showInline="true">
{choices}
  </Choices>
  <View>
{definitions}
  </View>
</View>
"""


def to_tasks(picked: Sequence[Picked], model_version: str) -> list[dict[str, Any]]:
    """Label Studio tasks, one per pick, with the model's label as a pre-annotation."""
    tasks = []
    for pick in picked:
        c = pick.candidate
        data = {
            **c.extras,
            "id": c.id,
            "text": c.text,
            "target": c.target,
            "context_before": " ".join(c.before),
            "context_after": " ".join(c.after),
            "uncertainty": pick.uncertainty,
            "rank": pick.rank,
        }
        result = {"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [pick.label]}}
        tasks.append(
            {
                "data": data,
                "predictions": [
                    {"model_version": model_version, "score": round(pick.scores[pick.label], 6), "result": [result]}
                ],
            }
        )
    return tasks


def write_tasks(picked: Sequence[Picked], path: str | Path, model_version: str) -> Path:
    return atomic_write_text(path, json.dumps(to_tasks(picked, model_version), ensure_ascii=False, indent=1) + "\n")


# ------------------------------------------------------------------------------------------------ export


@dataclass
class TaskVotes:
    """One exported task: where it is, its data, and one (annotator, label) vote per annotator."""

    where: str
    task_id: Any
    data: dict[str, Any]
    text: str
    target: str
    votes: list[tuple[str, str]] = field(default_factory=list)
    cancelled: int = 0  # skipped or cancelled annotations
    empty: int = 0  # submitted without a stance choice
    replaced: int = 0  # an annotator's earlier annotation of the same task, superseded by a later one


def _load(path: Path) -> Any:
    if not path.is_file():
        raise StanceError(f"{path}: export file not found")
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        offset = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
        raise StanceError(f"{path}:{line}: {not_utf8(offset)}") from exc
    except json.JSONDecodeError as exc:
        raise StanceError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno}); {EXPORT_HINT}") from exc


def _annotator(annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id") if not is_missing(who.get("id")) else who.get("email")
    return "unknown" if is_missing(who) else str(who)


def _choices(result: Any, from_name: str | None, where: str, problems: Problems) -> list[Any] | None:
    """The raw labels an annotation chose, or None (problem recorded) when its result is malformed."""
    if not isinstance(result, list):
        problems.add(where, "result", f"expected a list of result items, got {type(result).__name__}")
        return None
    items = [r for r in result if isinstance(r, dict) and r.get("type") == "choices"]
    names = sorted({str(r.get("from_name")) for r in items})
    if from_name is not None:
        items = [r for r in items if r.get("from_name") == from_name]
    elif len(names) > 1:
        problems.add(where, "result", f"choices from several controls ({', '.join(names)}); pass --from-name")
        return None
    chosen: list[Any] = []
    for item in items:
        value = item.get("value")
        picks = value.get("choices") if isinstance(value, dict) else None
        if not isinstance(picks, list):
            problems.add(where, "result.value.choices", f"expected a list of labels, got {picks!r}")
            return None
        chosen.extend(picks)
    return chosen


def _vote(chosen: list[Any], where: str, problems: Problems) -> str | None:
    labels = []
    for raw in chosen:
        label = normalize_label(raw)
        if label is None:
            problems.add(where, "result.value.choices", f"unknown label {raw!r}")
            problems.hint(f"known labels (stance.labels.ALIASES): {describe_aliases()}")
            return None
        labels.append(label)
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        problems.add(where, "result.value.choices", f"names {', '.join(map(repr, twice))} twice")
        return None
    if len(labels) > 1:
        problems.add(
            where, "result.value.choices", f"names {len(labels)} labels ({', '.join(labels)}); one per sentence"
        )
        return None
    return labels[0]


def read_export(
    path: str | Path,
    *,
    from_name: str | None = None,
    text_key: str = "text",
    target_key: str = "target",
    target: str | None = None,
) -> list[TaskVotes]:
    """Every task of a Label Studio JSON export with its votes; all problems raised together.

    ``from_name`` restricts the votes to one ``<Choices>`` control (default: any, when there is only one);
    ``target`` is the claim for tasks whose data has none (otherwise such a task is an error).
    """
    path = Path(path)
    tasks = _load(path)
    if not isinstance(tasks, list):
        kind = "an object" if isinstance(tasks, dict) else type(tasks).__name__
        raise StanceError(
            f"{path}: not a Label Studio JSON export: expected a list of tasks, got {kind}; {EXPORT_HINT}"
        )
    problems = Problems()
    out: list[TaskVotes] = []
    for number, task in enumerate(tasks, 1):
        problems.rows_seen += 1
        where = f"{path}:task {number}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            got = type(task).__name__ if not isinstance(task, dict) else f"keys {', '.join(task) or 'none'}"
            problems.skip(where, "data", f"not a Label Studio task (no 'data' object; {got}); {EXPORT_HINT}")
            continue
        if "id" in task:
            where += f" (id {task['id']})"
        annotations = task.get("annotations")
        if not isinstance(annotations, list):
            problems.skip(where, "annotations", f"missing: a tasks file, not an export; {EXPORT_HINT}")
            continue
        data = task["data"]
        text, claim = data.get(text_key), data.get(target_key)
        ok = True
        if is_missing(text) or not isinstance(text, str):
            problems.add(
                where, f"data.{text_key}", "missing or empty text" if is_missing(text) else f"not text: {text!r}"
            )
            ok = False
        if is_missing(claim) and target:
            claim = target
        if is_missing(claim) or not isinstance(claim, str):
            problems.add(where, f"data.{target_key}", "missing target (the claim); pass --target for tasks without one")
            ok = False
        if not ok:
            problems.rows_skipped += 1
            continue
        entry = TaskVotes(where, task.get("id"), data, text.strip(), claim.strip())
        by_annotator: dict[str, str] = {}
        for k, annotation in enumerate(annotations, 1):
            at = f"{where}: annotation {k}"
            if not isinstance(annotation, dict):
                problems.add(at, "", f"expected an object, got {type(annotation).__name__}")
                continue
            if annotation.get("was_cancelled"):
                entry.cancelled += 1
                continue
            chosen = _choices(annotation.get("result", []), from_name, at, problems)
            if chosen is None:
                continue
            if not chosen:
                entry.empty += 1
                continue
            label = _vote(chosen, at, problems)
            if label is not None:
                who = _annotator(annotation)
                entry.replaced += who in by_annotator
                by_annotator[who] = label
        entry.votes = list(by_annotator.items())
        out.append(entry)
    problems.raise_if_any(f"{path}: cannot import the export")
    if not out:
        raise StanceError(f"{path}: the export lists no tasks")
    return out
