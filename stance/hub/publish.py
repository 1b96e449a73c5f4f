"""Publishing a trained model to the Hugging Face Hub: stage the folder, check it offline, upload it in one commit.

The uploaded folder is the model folder of a ``stance train`` run (safetensors weights, tokenizer,
``config.json``, the resolved ``stance_config.yaml``, ``train_metrics.json``) plus the generated card
(``README.md``), the evaluation's ``metrics.json`` and its plots. ``--dry-run OUT`` writes exactly that
folder; a real publish stages the same folder in a temporary directory, runs the same offline checks and
refuses on any failure before it talks to the hub. The upload is a single ``create_commit`` (all files or
none), optionally on a new branch or as a pull request, and tagged afterwards. The token comes from
``HF_TOKEN`` or ``hf auth login`` (:func:`huggingface_hub.get_token`), never from the command line.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, HfApi

from ..config import StanceConfig, load_config
from ..errors import StanceError
from ..evaluation.schema import MetricsFile
from ..labels import LABELS
from ..layout import (
    CARD_FILE,
    HF_CONFIG_FILE,
    METRICS_FILE,
    MODEL_CONFIG_FILE,
    REPORT_DIR,
    TRAIN_METRICS_FILE,
)
from ..modeling.loading import label_columns, load_trained
from .card import build_card, check_card
from .context import SYNTHETIC_TAGS, CardContext, DataProvenance
from .upload import PublishResult, check_repo_id, files_of, first_line, resolve_token, upload

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".h5", ".msgpack")
CHECK_SENTENCE = "Officials said the two countries discussed a defence deal on Tuesday."


@dataclass
class Staged:
    """A folder ready to upload: every file in it goes into the commit."""

    folder: Path
    files: list[str]
    metrics: MetricsFile | None
    metrics_path: Path | None
    skipped: list[str] = field(default_factory=list)  # "path (why)" for model-folder files left out


def find_metrics(model_dir: Path, explicit: str | Path | None = None) -> Path | None:
    """``--metrics PATH`` when given, else ``MODEL_DIR/metrics.json``, else ``MODEL_DIR/../report/metrics.json``."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise StanceError(f"--metrics {path}: file not found")
        return path
    for path in (model_dir / METRICS_FILE, model_dir.parent / REPORT_DIR / METRICS_FILE):
        if path.is_file():
            return path
    return None


def stage(
    model_dir: str | Path,
    out_dir: Path,
    repo_id: str,
    *,
    metrics_path: str | Path | None = None,
    allow_unevaluated: bool = False,
    license: str = "apache-2.0",
    language: str = "en",
) -> Staged:
    """Write the upload folder into ``out_dir`` (empty or absent): model files, card, config, metrics, plots."""
    model_dir = Path(model_dir)
    load_trained(model_dir)  # refuses a non-model, pickled-only or label-less folder with the reason
    if not (model_dir / MODEL_CONFIG_FILE).is_file():
        raise StanceError(
            f"{model_dir}: no {MODEL_CONFIG_FILE}, so this is not the model folder of a `stance train` run "
            "(point at RUN_DIR/model)"
        )
    config = load_config(model_dir / MODEL_CONFIG_FILE)
    model_config = _read(model_dir / HF_CONFIG_FILE, json.loads)
    train_metrics = (
        _read(model_dir / TRAIN_METRICS_FILE, json.loads) if (model_dir / TRAIN_METRICS_FILE).is_file() else None
    )
    found = find_metrics(model_dir, metrics_path)
    if found is None and not allow_unevaluated:
        raise StanceError(
            f"{model_dir}: no metrics.json (looked in {model_dir / METRICS_FILE} and "
            f"{model_dir.parent / REPORT_DIR / METRICS_FILE}); run `stance evaluate {model_dir} DATA "
            "--output DIR` and pass --metrics DIR/metrics.json, or publish with --allow-unevaluated "
            "and a card that says the model is unevaluated"
        )
    metrics = MetricsFile.read(found) if found else None
    images = []
    if metrics is not None:
        _check_metrics_model(metrics, found, model_dir)
        images = _images(found, metrics)
    if out_dir.resolve().is_relative_to(model_dir.resolve()):
        raise StanceError(f"{out_dir}: inside the model folder {model_dir}; write the upload folder elsewhere")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise StanceError(f"{out_dir}: folder exists and is not empty; give a new folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped = _copy_modelfiles_of(model_dir, out_dir)
    if found is not None:
        for source, name in [(found, METRICS_FILE), *images]:
            (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out_dir / name)
    names = sorted(set(files_of(out_dir)) | {CARD_FILE})
    ctx = CardContext(
        repo_id,
        model_config,
        config,
        train_metrics,
        metrics,
        names,
        license=license,
        language=language,
        provenance=data_provenance(config),
    )
    build_card(ctx).save(out_dir / CARD_FILE)
    return Staged(out_dir, files_of(out_dir), metrics, found, skipped)


def data_provenance(config: StanceConfig) -> DataProvenance | None:
    """What the dataset card beside the training file (``README.md`` with YAML metadata) says, if there is one."""
    path = Path(config.data.train).parent / CARD_FILE
    if not path.is_file():
        return None
    try:
        card = DatasetCard.load(path)
    except (ValueError, OSError):
        return None
    data = card.data
    tags = set(getattr(data, "tags", None) or [])
    return DataProvenance(
        card_path=str(path),
        name=getattr(data, "pretty_name", None),
        license=getattr(data, "license", None),
        synthetic=bool(tags & SYNTHETIC_TAGS),
    )


def check_folder(folder: Path, metrics: MetricsFile | None) -> list[str]:
    """Offline checks of a staged folder; each problem as one line (empty when it may be uploaded)."""
    from transformers import AutoModelForSequenceClassification, pipeline

    problems = [
        f"{name}: a pickled file; it must not be uploaded"
        for name in files_of(folder)
        if name.endswith(PICKLE_SUFFIXES)
    ]
    try:
        load_trained(folder)  # what StanceClassifier.from_pretrained uses
    except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
        problems.append(f"stance's loader (StanceClassifier) cannot load it: {first_line(exc)}")
    target = ""
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, use_safetensors=True, trust_remote_code=False
        )
        label_columns(model.config, str(folder))
        target = getattr(model.config, "stance_default_target", None) or ""
    except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
        problems.append(f"AutoModelForSequenceClassification cannot load it: {first_line(exc)}")
    try:
        classify = pipeline("text-classification", model=str(folder), top_k=None)
        scores = classify({"text": target or "a claim", "text_pair": CHECK_SENTENCE})
        got = sorted(s["label"] for s in scores)
        if got != sorted(LABELS) or abs(sum(s["score"] for s in scores) - 1.0) > 1e-3:
            problems.append(
                f"pipeline('text-classification') returns labels {got}, expected {sorted(LABELS)} "
                "with scores summing to 1"
            )
    except Exception as exc:  # noqa: BLE001
        problems.append(f"pipeline('text-classification') cannot run it: {first_line(exc)}")
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        return problems + [f"{CARD_FILE}: missing"]
    problems += check_card(card_path, metrics)
    text = card_path.read_text("utf-8")
    problems += [
        f"{CARD_FILE}: shows {link}, which is not in the folder"
        for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
        if not (folder / link).is_file()
    ]
    if metrics is not None and MetricsFile.read(folder / METRICS_FILE) != metrics:
        problems.append(f"{METRICS_FILE}: differs from the evaluation it was copied from")
    return problems


def publish(
    model_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    tag: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
    dry_run: str | Path | None = None,
    allow_unevaluated: bool = False,
    metrics_path: str | Path | None = None,
    api: HfApi | None = None,
) -> PublishResult:
    """``stance publish``: stage and check the folder, then (unless ``dry_run``) upload it in one commit.

    ``api`` is injectable so tests can record the calls; it defaults to a fresh :class:`HfApi`.
    """
    check_repo_id(repo_id)
    if tag and create_pr:
        raise StanceError(
            "--tag with --create-pr would tag a commit nobody has reviewed; merge the pull request, then tag it"
        )
    if dry_run is not None:
        staged = _stage_and_check(model_dir, Path(dry_run), repo_id, metrics_path, allow_unevaluated)
        return PublishResult(repo_id, staged.files, staged.skipped, staged.metrics_path, dry_run=Path(dry_run))
    token = resolve_token()  # before any work: no token, no point
    with tempfile.TemporaryDirectory(prefix="stance-publish-") as tmp:
        staged = _stage_and_check(model_dir, Path(tmp) / "upload", repo_id, metrics_path, allow_unevaluated)
        message = commit_message or _default_message(repo_id, staged.metrics)
        result = upload(
            staged.folder,
            repo_id,
            api=api or HfApi(),
            token=token,
            private=private,
            revision=revision,
            tag=tag,
            create_pr=create_pr,
            commit_message=message,
        )
    result.skipped, result.metrics_path = staged.skipped, staged.metrics_path
    return result


# ---------------------------------------------------------------------------------------------------------


def _stage_and_check(
    model_dir: str | Path, out_dir: Path, repo_id: str, metrics_path: str | Path | None, allow_unevaluated: bool
) -> Staged:
    staged = stage(model_dir, out_dir, repo_id, metrics_path=metrics_path, allow_unevaluated=allow_unevaluated)
    problems = check_folder(staged.folder, staged.metrics)
    if problems:
        raise StanceError(
            f"{out_dir}: the folder to upload fails the offline checks, so nothing is uploaded "
            "(the folder is left there to inspect when it came from --dry-run)",
            problems,
        )
    return staged


def _copy_modelfiles_of(model_dir: Path, out_dir: Path) -> list[str]:
    skipped = []
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        name = path.relative_to(model_dir).as_posix()
        why = (
            "hidden"
            if any(part.startswith(".") for part in Path(name).parts)
            else "pickled; never uploaded"
            if name.endswith(PICKLE_SUFFIXES)
            else "replaced by the generated card"
            if name == CARD_FILE
            else None
        )
        if why:
            skipped.append(f"{name} ({why})")
            continue
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out_dir / name)
    return skipped


def _images(path: Path, metrics: MetricsFile) -> list[tuple[Path, str]]:
    """(source, name in the upload) of each plot named in metrics.json; all must exist."""
    images = [(path.parent / name, name) for name in (metrics.get("images") or {}).values()]
    missing = [f"{source} not found" for source, _ in images if not source.is_file()]
    if missing:
        raise StanceError(f"{path}: names plots that are not there; re-run `stance evaluate`", missing)
    return images


def _check_metrics_model(metrics: MetricsFile, path: Path, model_dir: Path) -> None:
    """Refuse figures of another model: ``metrics["model"]``, where it names an existing folder, must be this one."""
    named = Path(metrics["model"]).expanduser()
    for candidate in (named, path.parent / named):
        if (candidate / "config.json").is_file():
            if not _same_model(candidate, model_dir):
                raise StanceError(
                    f"{path}: evaluates the model {metrics['model']}, not {model_dir}; pass the "
                    "metrics.json of this model with --metrics"
                )
            return


def _same_model(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    weights = [sorted((p.name, p.stat().st_size) for p in d.glob("*.safetensors")) for d in (a, b)]
    configs = [(d / "config.json").read_bytes() if (d / "config.json").is_file() else b"" for d in (a, b)]
    return weights[0] == weights[1] and configs[0] == configs[1]


def _read(path: Path, parse: Any) -> dict[str, Any]:
    """A JSON or YAML mapping from the model folder; a broken file is a StanceError naming it."""
    try:
        data = parse(path.read_text("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StanceError(f"{path}: cannot be read: {first_line(exc)}") from exc
    if not isinstance(data, dict):
        raise StanceError(f"{path}: expected a mapping at the top level")
    return data


def _default_message(repo_id: str, metrics: MetricsFile | None) -> str:
    name = repo_id.split("/")[-1]
    if metrics is None:
        return f"Upload {name} (unevaluated)"
    ci = metrics["confidence_intervals"]["macro_f1"]
    return (
        f"Upload {name}: macro-F1 {metrics['metrics']['macro_f1']:.3f} "
        f"(95% CI {ci['low']:.3f}-{ci['high']:.3f}) on {metrics['data']['n_examples']} sentences"
    )
