"""Knowledge distillation: a small student learns a trained teacher's probabilities (``stance distill``).

The teacher (a ``stance train`` model folder) scores every training pair once, through
:class:`~stance.inference.scorer.PairScorer`, and its *logits* are kept with the pair; unlabelled pairs
(``--unlabelled`` files, read like ``stance predict --input``; optionally each training sentence paired with
another claim of the data) are scored the same way. The student is then trained by :func:`~.trainer.train`
(same data, build, Trainer, callbacks and output folder) with, per batch::

    loss = alpha * T^2 * mean over all rows of KL(softmax(teacher / T) || softmax(student / T))
         + (1 - alpha) * CE(student, gold), over the rows with a gold label

CE is ``stance train``'s own objective (:class:`~.losses.PairLoss`: ``training.class_weights`` and
``training.label_smoothing`` apply; turn them off for the plain cross-entropy). Unlabelled rows carry no
gold label, so they enter the soft term only. Dev evaluation, early stopping and the test report are those
of ``stance train``. The run records its teacher in ``train_metrics.json`` (``distilled_from``) and in the
model's ``config.json`` (:data:`DISTILLED_ATTRIBUTE`).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerBase

from ..config import StanceConfig, replace
from ..data.augment import adjacent_spans, perturbed_copies, target_swap
from ..data.formats import Problems
from ..errors import StanceError
from ..inference.files import Columns, iter_input, scan_input
from ..inference.scorer import PairScorer, TorchBackend
from ..labels import LABEL2ID
from ..layout import HF_CONFIG_FILE, MODEL_DIR
from ..modeling.bases import resolve_base
from ..modeling.loading import TrainedModel, load_trained
from .losses import PairLoss, class_weights
from .trainer import PairTrainer, TrainingHooks, TrainResult, is_main_process, train
from .workflow import report_on_test

log = logging.getLogger(__name__)

TEACHER_COLUMN = "teacher_logits"  # the teacher's logits (LABELS order) of each training pair
DISTILLED_ATTRIBUTE = "stance_distilled_from"  # in the student's config.json: the teacher it learnt from
IGNORE_INDEX = -100  # the label of a row without gold (cross-entropy skips it; the Trainer does not count it)
TEACHER_PRECISIONS = ("float32", "bf16")


class DistillLoss:
    """``alpha * T^2 * KL(teacher || student)`` at temperature ``T`` over every row, plus ``(1 - alpha)`` times
    the task loss over the rows whose label is not :data:`IGNORE_INDEX`.

    ``num_gold`` and ``num_rows`` are the gold and total row counts of the whole accumulated batch (the
    Trainer's ``num_items_in_batch`` and its row count), so gradient accumulation gives the update of one
    large batch; without them the counts of this batch are used.
    """

    def __init__(self, hard: PairLoss, temperature: float, alpha: float) -> None:
        check_settings(temperature, alpha)
        self.hard = hard
        self.temperature = temperature
        self.alpha = alpha

    def __call__(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        teacher_logits: torch.Tensor,
        num_gold: Any = None,
        num_rows: Any = None,
    ) -> torch.Tensor:
        t = self.temperature
        student = torch.log_softmax(logits.float() / t, dim=-1)
        teacher = torch.log_softmax(teacher_logits.to(logits.device).float() / t, dim=-1)
        kl = torch.nn.functional.kl_div(student, teacher, log_target=True, reduction="sum")
        rows = num_rows if num_rows else labels.numel()
        if torch.is_tensor(rows):
            rows = rows.to(kl.device)
        soft = t * t * kl / rows
        gold = labels != IGNORE_INDEX
        if bool(gold.any()):
            count = num_gold if num_gold else gold.sum()
            hard = self.hard({"logits": logits[gold]}, labels[gold], count)
        else:
            hard = logits.sum() * 0.0  # no gold row in this batch: the soft term alone (and a graph)
        return self.alpha * soft + (1.0 - self.alpha) * hard


class DistillTrainer(PairTrainer):
    """The pair Trainer whose training batches carry the teacher's logits and pay :class:`DistillLoss`;
    evaluation (no teacher logits) is ``stance train``'s."""

    def __init__(self, *args: Any, distill_loss: DistillLoss, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.distill_loss = distill_loss
        self.step_rows: Any = None

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()  # the model's inputs: keep the teacher column as well
        if TEACHER_COLUMN not in self._signature_columns:
            self._signature_columns.append(TEACHER_COLUMN)

    def get_batch_samples(self, *args: Any, **kwargs: Any) -> tuple[list, Any]:
        batch_samples, num_items = super().get_batch_samples(*args, **kwargs)
        rows = torch.tensor(sum(len(batch["input_ids"]) for batch in batch_samples), device=self.args.device)
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            rows = self.accelerator.gather(rows).sum()  # as the Trainer counts num_items_in_batch
        self.step_rows = rows
        return batch_samples, num_items

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher = inputs.pop(TEACHER_COLUMN, None)
        if teacher is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = self.distill_loss(outputs.logits, labels, teacher, num_items_in_batch, self.step_rows)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None and self.args.world_size > 1:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients; the counts were global
        return (loss, outputs) if return_outputs else loss


class DistillHooks(TrainingHooks):
    """What distillation changes in :func:`~.trainer.train`: the teacher-scored training set, the Trainer
    and its loss, and the record of the teacher."""

    trainer_class = DistillTrainer

    def __init__(
        self,
        config: StanceConfig,
        teacher: TrainedModel,
        *,
        temperature: float,
        alpha: float,
        unlabelled: Sequence[str | Path] = (),
        columns: Columns | None = None,
        swap_targets: bool = False,
        spans: bool = False,
        augment: int = 0,
        precision: str = "float32",
    ) -> None:
        self.config = config
        self.teacher: TrainedModel | None = teacher
        self.source = teacher.source
        self.temperature = temperature
        self.alpha = alpha
        self.unlabelled = [str(path) for path in unlabelled]
        self.columns = columns or Columns()
        self.swap_targets = swap_targets
        self.spans = spans
        self.span_rows = 0
        self.augment = augment
        self.augmented_rows = 0
        self.precision = precision
        self.unlabelled_rows = 0
        self.swapped_rows = 0
        self.hard: PairLoss | None = None

    def train_dataset(self, train: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
        targets, texts = list(train["target"]), list(train["text"])
        labels: list[str | None] = list(train["label"])
        t = self.config.training  # the gold term is train()'s own loss, weighted by the same gold labels
        self.hard = PairLoss(class_weights(list(train["label"])) if t.class_weights else None, t.label_smoothing)
        extra_targets, extra_texts = self._unlabelled_pairs()
        self.unlabelled_rows = len(extra_texts)
        swapped_targets, swapped_texts = self._swapped_pairs(train)
        self.swapped_rows = len(swapped_texts)
        span_targets, span_texts = adjacent_spans(train) if self.spans else ([], [])
        self.span_rows = len(span_texts)
        copy_targets, copy_texts = perturbed_copies(train, self.augment, t.seed) if self.augment else ([], [])
        self.augmented_rows = len(copy_texts)
        targets += extra_targets + swapped_targets + span_targets + copy_targets
        texts += extra_texts + swapped_texts + span_texts + copy_texts
        labels += [None] * (len(texts) - len(labels))
        log.info(
            "distilling: %d gold pair(s), %d unlabelled, %d with another claim, %d neighbour span(s), "
            "%d perturbed cop(ies); temperature %g, alpha %g",
            len(train),
            self.unlabelled_rows,
            self.swapped_rows,
            self.span_rows,
            self.augmented_rows,
            self.temperature,
            self.alpha,
        )
        soft = self._teacher_logits(targets, texts)
        rows = Dataset.from_dict({"target": targets, "text": texts, "label": labels, TEACHER_COLUMN: soft})
        return encode_soft(rows, tokenizer, max_length)

    def _unlabelled_pairs(self) -> tuple[list[str], list[str]]:
        targets: list[str] = []
        texts: list[str] = []
        default = self.config.data.default_target
        for path in self.unlabelled:
            problems = Problems()
            empty = 0
            for row in iter_input(path, self.columns, problems):
                if not row.text:
                    empty += 1
                    continue
                targets.append(row.target or default)
                texts.append(row.text)
            problems.raise_if_any(f"{path}: changed while it was being read")
            if empty:
                log.info("%s: skipped %d empty text(s)", path, empty)
        return targets, texts

    def _swapped_pairs(self, train: Dataset) -> tuple[list[str], list[str]]:
        """Each training sentence once with another claim of the data (none when it has a single claim)."""
        if not self.swap_targets:
            return [], []
        if len(set(train["target"])) < 2:
            log.info("--swap-targets: the training data has a single claim; no pairs with another claim")
            return [], []
        swapped = target_swap(train, 1.0, self.config.training.seed)
        extra = swapped.select(range(len(train), len(swapped)))
        return list(extra["target"]), list(extra["text"])

    def _teacher_logits(self, targets: list[str], texts: list[str]) -> list[list[float]]:
        """The teacher's logits of every pair (scored once), then the teacher is let go."""
        assert self.teacher is not None, "the teacher scores the training set once"
        if torch.cuda.is_available():
            self.teacher.model.to("cuda")
        backend = TorchBackend(self.teacher, self.precision)
        scorer = PairScorer(self.teacher, backend, self.config.training.eval_batch_size)
        logits = scorer.logits(targets, texts)
        self.teacher = None  # free its memory before the student trains
        return logits.astype(float).tolist()

    def trainer_kwargs(self) -> dict[str, Any]:
        assert self.hard is not None, "train_dataset() runs first"
        return {"distill_loss": DistillLoss(self.hard, self.temperature, self.alpha)}

    def record(self) -> dict[str, Any]:
        return {
            "teacher": self.source,
            "teacher_sha256_of_config": config_sha256(self.source),
            "temperature": self.temperature,
            "alpha": self.alpha,
            "unlabelled_rows": self.unlabelled_rows,
            "unlabelled_files": self.unlabelled,
            "swapped_target_rows": self.swapped_rows,
            "span_rows": self.span_rows,
            "augment": self.augment,
            "augmented_rows": self.augmented_rows,
            "teacher_precision": self.precision,
        }

    def model_attributes(self) -> dict[str, Any]:
        return {DISTILLED_ATTRIBUTE: self.source}

    def summary(self) -> dict[str, Any]:
        return {"distilled_from": self.record()}


def encode_soft(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
    """Tokenise (target, text) pairs as :func:`~.trainer.encode` does, with the teacher's logits kept and
    :data:`IGNORE_INDEX` as the label of the rows without gold."""

    def batch(rows: dict[str, list]) -> dict[str, list]:
        enc = tokenizer(rows["target"], rows["text"], truncation="longest_first", max_length=max_length)
        enc["labels"] = [IGNORE_INDEX if label is None else LABEL2ID[label] for label in rows["label"]]
        enc[TEACHER_COLUMN] = rows[TEACHER_COLUMN]
        return enc

    return ds.map(batch, batched=True, remove_columns=ds.column_names, desc="tokenising")


def check_settings(temperature: float, alpha: float) -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise StanceError(
            f"--temperature must be a number > 0 (1 = the teacher's own probabilities), got {temperature}"
        )
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise StanceError(
            f"--alpha must lie in [0, 1] (1 = the teacher's probabilities only, 0 = gold labels only), got {alpha}"
        )


def teacher_folder(teacher: str | Path) -> str:
    """The teacher's model folder: ``DIR/model`` when given a ``stance train`` run folder ``DIR``."""
    path = Path(teacher).expanduser()
    if not (path / HF_CONFIG_FILE).is_file() and (path / MODEL_DIR / HF_CONFIG_FILE).is_file():
        return str(path / MODEL_DIR)
    return str(teacher)


def load_teacher(teacher: str | Path) -> TrainedModel:
    try:
        return load_trained(teacher_folder(teacher))
    except StanceError as exc:
        raise StanceError(f"teacher: {exc}") from exc


def check_student(config: StanceConfig, named: bool) -> None:
    """Refuse a student base that cannot be opened, before any output is written (config and tokenizer)."""
    model = config.model
    if model.init != "pretrained":
        return
    from transformers import AutoConfig, AutoTokenizer

    where = f"--student {model.base}" if named else f"student (model.base {model.base!r})"
    try:
        source = resolve_base(model.base)
        AutoConfig.from_pretrained(source, trust_remote_code=False)
        AutoTokenizer.from_pretrained(source)
    except StanceError as exc:
        raise StanceError(f"{where}: cannot be loaded: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise StanceError(
            f"{where}: cannot be loaded: {str(exc).splitlines()[0]} (a named base, a local model folder, "
            "or a hub id with network access)"
        ) from exc


def config_sha256(source: str) -> str | None:
    """sha256 of the teacher's ``config.json`` (local folder, else the hub cache); None when not found."""
    path = Path(source).expanduser() / HF_CONFIG_FILE
    if not path.is_file():
        try:
            from transformers.utils import cached_file

            found = cached_file(source, HF_CONFIG_FILE)
        except (OSError, ValueError):
            return None
        if found is None:
            return None
        path = Path(found)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def distill(
    config: StanceConfig,
    teacher: str | Path,
    output_dir: str | Path,
    *,
    student: str | None = None,
    temperature: float = 2.0,
    alpha: float = 0.5,
    unlabelled: Sequence[str | Path] = (),
    columns: Columns | None = None,
    swap_targets: bool = False,
    spans: bool = False,
    augment: int = 0,
    teacher_precision: str = "float32",
    overwrite: bool = False,
) -> TrainResult:
    """``stance distill``: train ``config``'s model (or ``student``, a base name, folder or hub id) on the
    teacher's probabilities, into a standard ``stance train`` output folder with its test report."""
    check_settings(temperature, alpha)
    if not isinstance(augment, int) or augment < 0:
        raise StanceError(f"--augment must be a whole number >= 0 (perturbed copies per sentence), got {augment}")
    columns = columns or Columns()
    if teacher_precision not in TEACHER_PRECISIONS:
        raise StanceError(
            f"teacher precision must be one of {', '.join(TEACHER_PRECISIONS)}; got {teacher_precision!r}"
        )
    if config.training.rdrop > 0:
        raise StanceError(
            "training.rdrop: R-Drop is not supported by stance distill; set it to 0 (--set training.rdrop=0)"
        )
    if student is not None:
        config = replace(config, model={"base": student, "init": "pretrained"})
    check_student(config, named=student is not None)
    trained = load_teacher(teacher)
    for path in unlabelled:  # every bad row of every file, before any output
        scan_input(path, columns, needs_target=False)
    hooks = DistillHooks(
        config,
        trained,
        temperature=temperature,
        alpha=alpha,
        unlabelled=unlabelled,
        columns=columns,
        swap_targets=swap_targets,
        spans=spans,
        augment=augment,
        precision=teacher_precision,
    )
    del trained  # the hooks let the teacher go once it has scored the training set
    if alpha == 0 and (unlabelled or swap_targets or spans or augment):
        log.warning("--alpha 0 trains on gold labels only: the unlabelled rows have no effect")
    result = train(config, output_dir, overwrite=overwrite, hooks=hooks)
    if is_main_process() and config.output.report:
        if "test" not in result.splits:
            log.info("no test split (data.test is not set): no evaluation report written")
        else:
            log.info("evaluation report: %s", report_on_test(config, result))
    return result
