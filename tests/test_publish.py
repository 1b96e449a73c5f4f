"""Publishing: the staged folder and its card (offline checks on the tiny model), the upload through a recording
stand-in for HfApi (one commit, every file, branch/tag/privacy), and every kind of bad input."""

from __future__ import annotations

import base64
import inspect
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from huggingface_hub import HfApi, ModelCard, RepoUrl, constants

from stance.cli import main
from stance.config import DEFAULT_TARGET
from stance.errors import StanceError
from stance.evaluation.schema import MetricsFile
from stance.hub.card import check_card, model_index_figures
from stance.hub.publish import check_folder, publish, upload
from stance.labels import LABELS

REPO = "alice/stance-tiny"
TOKEN = "hf_test_token_not_real"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)  # 1×1 pixel
IMAGES = {
    "confusion_matrix": "confusion_matrix.png",
    "confusion_matrix_normalized": "confusion_matrix_normalized.png",
    "reliability": "reliability.png",
    "per_class_f1": "per_class_f1.png",
}


def make_metrics(model: str) -> dict[str, Any]:
    """A metrics.json exactly as `stance evaluate` documents it, with figures chosen so the derived
    limitations are predictable: `denying` is the weakest class, `question` the worst large group."""

    def scores(acc: float, macro: float) -> dict[str, float]:
        return {"accuracy": acc, "macro_f1": macro, "micro_f1": acc, "weighted_f1": macro}

    def ci(low: float, high: float) -> dict[str, Any]:
        return {"low": low, "high": high, "level": 0.95, "resamples": 1000, "seed": 0}

    def group(n: int, acc: float, macro: float) -> dict[str, Any]:
        return {"n": n, "accuracy": acc, "macro_f1": macro}

    per_class = {
        "supportive": (0.78, 0.81, 0.7954, 111, 0.74, 0.85),  # precision, recall, f1, support, f1 CI
        "denying": (0.72, 0.5234, 0.6061, 107, 0.52, 0.69),
        "neutral": (0.66, 0.8065, 0.7259, 124, 0.67, 0.78),
    }
    return {
        "schema_version": 1,
        "model": model,
        "data": {"path": "data/test.jsonl", "split": "test", "n_examples": 342, "targets": [DEFAULT_TARGET]},
        "labels": list(LABELS),
        "metrics": {"accuracy": 0.7193, "macro_f1": 0.70912345, "micro_f1": 0.7193, "weighted_f1": 0.7112},
        "confidence_intervals": {"accuracy": ci(0.6696, 0.7661), "macro_f1": ci(0.6587, 0.7549)},
        "per_class": {
            label: {"precision": p, "recall": r, "f1": f, "support": s, "f1_ci": {"low": lo, "high": hi}}
            for label, (p, r, f, s, lo, hi) in per_class.items()
        },
        "confusion_matrix": {"labels": list(LABELS), "counts": [[90, 8, 13], [12, 56, 39], [13, 11, 100]]},
        "calibration": {"ece": 0.083, "bins": 10},
        "baselines": {"majority": scores(0.3626, 0.1774), "tfidf_logreg": scores(0.6023, 0.5911)},
        "breakdowns": {
            "source": {
                "Delhi Courier": group(42, 0.74, 0.72),
                "Asia Newswire": group(45, 0.6, 0.55),
                "Neva News Agency": group(3, 0.0, 0.0),
            },
            "target": {DEFAULT_TARGET: group(342, 0.7193, 0.7091)},
            "phenomena": {
                "question": group(25, 0.48, 0.41),
                "negation": group(90, 0.7, 0.69),
                "minimal_pair": group(4, 0.25, 0.2),
            },
        },
        "errors": {
            "confident_wrong": [
                {
                    "id": "rap-1",
                    "text": "Moscow has never denied the helicopter deal.",
                    "gold": "supportive",
                    "predicted": "denying",
                    "confidence": 0.97,
                }
            ],
            "unsure_right": [
                {
                    "id": "rap-2",
                    "text": "Will Moscow arm Islamabad?",
                    "gold": "neutral",
                    "predicted": "neutral",
                    "confidence": 0.36,
                }
            ],
        },
        "notes": ["baselines trained on data/train.jsonl (1183 examples, this run's training split)"],
        "images": dict(IMAGES),
    }


def write_report(folder: Path, model_dir: Path, **changes: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {**make_metrics(str(model_dir)), **changes}
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), "utf-8")
    for name in IMAGES.values():
        (folder / name).write_bytes(PNG)
    return folder / "metrics.json"


def copy_model(tiny_model_dir: Path, root: Path) -> Path:
    """A private copy of the shared tiny model folder (RUN/model), so tests may add files next to it."""
    model = root / "run" / "model"
    shutil.copytree(tiny_model_dir, model)
    return model


@pytest.fixture(scope="module")
def evaluated_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RUN/model with RUN/report/metrics.json and its plots, as `stance train` lays them out."""
    model = copy_model(tiny_model_dir, tmp_path_factory.mktemp("publish"))
    write_report(model.parent / "report", model)
    return model


@pytest.fixture(scope="module")
def dry_folder(evaluated_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dry") / "upload"
    publish(evaluated_model, REPO, dry_run=out)
    return out


def expected_files(model_dir: Path) -> list[str]:
    return sorted({p.name for p in model_dir.iterdir()} | {"README.md", "metrics.json", *IMAGES.values()})


class RecordingApi:
    """Stands in for HfApi: records every call (checked against the real method's signature, so the stand-in
    cannot drift from the API); ``fail`` = (method, exception) makes that method raise."""

    def __init__(
        self,
        *,
        exists_private: bool | None = None,
        branches: tuple[str, ...] = ("main",),
        tags: tuple[str, ...] = (),
        fail: tuple[str, Exception] | None = None,
    ) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.exists_private, self.branches, self.tags, self.fail = exists_private, branches, tags, fail
        self.private = exists_private
        self.uploaded: dict[str, bytes] = {}

    def _record(self, name: str, **kwargs: Any) -> None:
        inspect.signature(getattr(HfApi, name)).bind(HfApi(), **kwargs)  # TypeError on a wrong call
        self.calls.append((name, kwargs))
        if self.fail and self.fail[0] == name:
            raise self.fail[1]

    def whoami(self, token: str | None = None) -> dict[str, str]:
        self._record("whoami", token=token)
        return {"name": "alice"}

    def create_repo(self, repo_id: str, **kwargs: Any) -> RepoUrl:
        self._record("create_repo", repo_id=repo_id, **kwargs)
        if self.private is None:
            self.private = bool(kwargs.get("private"))
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def repo_info(self, repo_id: str, **kwargs: Any) -> SimpleNamespace:
        self._record("repo_info", repo_id=repo_id, **kwargs)
        return SimpleNamespace(id=repo_id, private=self.private)

    def list_repo_refs(self, repo_id: str, **kwargs: Any) -> SimpleNamespace:
        self._record("list_repo_refs", repo_id=repo_id, **kwargs)
        return SimpleNamespace(
            branches=[SimpleNamespace(name=b) for b in self.branches], tags=[SimpleNamespace(name=t) for t in self.tags]
        )

    def create_branch(self, repo_id: str, **kwargs: Any) -> None:
        self._record("create_branch", repo_id=repo_id, **kwargs)

    def create_commit(self, repo_id: str, operations: list, **kwargs: Any) -> SimpleNamespace:
        self._record("create_commit", repo_id=repo_id, operations=operations, **kwargs)
        self.calls[-1][1]["files"] = [op.path_in_repo for op in operations]
        self.uploaded = {op.path_in_repo: Path(op.path_or_fileobj).read_bytes() for op in operations}
        pr = f"https://huggingface.co/{repo_id}/discussions/1" if kwargs.get("create_pr") else None
        return SimpleNamespace(
            oid="c0ffee" * 6 + "abcd", commit_url=f"https://huggingface.co/{repo_id}/commit/c0ffee", pr_url=pr
        )

    def create_tag(self, repo_id: str, **kwargs: Any) -> None:
        self._record("create_tag", repo_id=repo_id, **kwargs)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def call(self, name: str) -> dict[str, Any]:
        found = [kwargs for n, kwargs in self.calls if n == name]
        assert len(found) == 1, f"{name} called {len(found)} times"
        return found[0]


# ---------------------------------------------------------------------------------------------------------
# the folder and the card


def test_dry_run_writes_exactly_the_upload_folder(dry_folder: Path, evaluated_model: Path) -> None:
    assert sorted(p.name for p in dry_folder.iterdir()) == expected_files(evaluated_model)
    assert json.loads((dry_folder / "metrics.json").read_text()) == make_metrics(str(evaluated_model))
    assert check_folder(dry_folder, MetricsFile.read(dry_folder / "metrics.json")) == []

    from transformers import AutoModelForSequenceClassification, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(dry_folder)
    assert model.config.id2label == {0: "supportive", 1: "denying", 2: "neutral"}
    sentence = "Moscow sold helicopters to Islamabad."
    scores = pipeline("text-classification", model=str(dry_folder), top_k=None)(
        {"text": DEFAULT_TARGET, "text_pair": sentence}
    )
    assert sorted(s["label"] for s in scores) == sorted(LABELS)

    from stance import StanceClassifier  # how the card and README say to load it back

    best = max(scores, key=lambda s: s["score"])["label"]
    assert StanceClassifier.from_pretrained(dry_folder).predict([sentence])[0].label == best


def test_card_metadata_and_model_index_round_trip(dry_folder: Path) -> None:
    card = ModelCard.load(dry_folder / "README.md")
    data = card.data
    assert (data.license, data.language, data.library_name, data.pipeline_tag) == (
        "apache-2.0",
        "en",
        "transformers",
        "text-classification",
    )
    assert "stance-detection" in data.tags and "unevaluated" not in data.tags
    assert data.base_model is None  # the tiny model starts from random weights: no base to claim
    assert model_index_figures(card) == {"accuracy": (0.7193, "test"), "macro_f1": (0.7091, "test")}
    result = data.eval_results[0]
    assert result.task_type == "text-classification" and "data/test.jsonl" in result.dataset_name
    assert data.model_name == "stance-tiny"


def test_card_sections_and_limitations_come_from_the_figures(dry_folder: Path) -> None:
    text = (dry_folder / "README.md").read_text()
    sections = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    for name in (
        "Labels",
        "Target claim",
        "Training data",
        "Training configuration",
        "Evaluation",
        "How to use",
        "Limitations",
    ):
        assert name in sections
    limitations = text.split("## Limitations", 1)[1].split("\n## ", 1)[0]
    assert "Weakest class `denying`: F1 0.606, recall 0.523" in limitations
    assert "39 of its 107 evaluated sentences were predicted `neutral`" in limitations  # from the confusion matrix
    assert "phenomena `question` (n=25): accuracy 0.480" in limitations
    assert "source `Asia Newswire` (n=45)" in limitations
    assert "minimal_pair" not in limitations and "Neva News Agency" not in limitations  # too small to judge
    assert "negation" not in limitations  # not below the overall accuracy by 5 points
    assert "tagged **synthetic**" not in limitations  # tests/data has no dataset card to say so
    assert "The figures on this card describe `data/test.jsonl` only" in limitations
    assert "not above" not in limitations  # it beats both baselines here
    assert "[0.659, 0.755]" in limitations and "342 sentences" in limitations
    assert "Moscow has never denied the helicopter deal." in limitations
    assert "ECE" not in limitations and "0.083" in limitations
    evaluation = text.split("## Evaluation", 1)[1].split("\n## ", 1)[0]
    assert "![Confusion matrix (counts)](confusion_matrix.png)" in evaluation
    assert "| `denying` | 0.720 | 0.523 | 0.606 | [0.520, 0.690] | 107 |" in evaluation
    assert "| TF-IDF + logistic regression | 0.602 | 0.591 |" in evaluation
    assert "baselines trained on data/train.jsonl" in evaluation
    usage = text.split("## How to use", 1)[1]
    assert f'StanceClassifier.from_pretrained("{REPO}")' in usage
    assert f'pipeline("text-classification", model="{REPO}", top_k=None)' in usage and '"text_pair"' in usage


def test_card_check_fails_without_a_section_or_the_model_index(dry_folder: Path, tmp_path: Path) -> None:
    metrics = MetricsFile.read(dry_folder / "metrics.json")
    text = (dry_folder / "README.md").read_text()
    no_section = tmp_path / "no_section.md"
    no_section.write_text(text.replace("## Limitations", "Limitations"))
    assert any("'## Limitations' is missing" in p for p in check_card(no_section, metrics))

    card = ModelCard.load(dry_folder / "README.md")
    card.data.eval_results, card.data.model_name = None, None
    card.save(tmp_path / "no_index.md")
    assert "model-index:" not in (tmp_path / "no_index.md").read_text()
    assert any("no model-index" in p for p in check_card(tmp_path / "no_index.md", metrics))

    wrong = tmp_path / "wrong.md"
    wrong.write_text(text.replace("value: 0.7091", "value: 0.8091"))
    assert any("macro_f1 is 0.8091, metrics.json says 0.7091" in p for p in check_card(wrong, metrics))
    assert check_card(dry_folder / "README.md", metrics) == []


def test_card_for_other_data_claims_nothing_it_cannot_show(dry_folder: Path, tmp_path: Path) -> None:
    """Outlets outside the authored corpus and a model below a baseline: the card says exactly that."""
    from stance.config import StanceConfig, replace
    from stance.hub.card import build_card
    from stance.hub.context import CardContext

    raw = make_metrics("elsewhere")
    raw["data"]["path"] = "emergent/test.jsonl"
    raw["breakdowns"]["source"] = {"Reuters": {"n": 40, "accuracy": 0.7, "macro_f1": 0.7}}
    raw["baselines"]["tfidf_logreg"]["macro_f1"] = 0.75
    metrics = MetricsFile.parse(raw)
    config = replace(
        StanceConfig(),
        model={"base": "embedded", "init": "pretrained", "max_length": 128},
        data={"train": "emergent/train.jsonl"},
    )
    model_config = json.loads((dry_folder / "config.json").read_text())
    card = build_card(CardContext("bob/emergent-stance", model_config, config, None, metrics, ["README.md"]))
    card.save(tmp_path / "README.md")
    assert check_card(tmp_path / "README.md", metrics) == []
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    text = card.text
    assert "synthetic" not in text
    assert "The figures on this card describe `emergent/test.jsonl` only" in text
    assert "Its macro-F1 (0.709) is **not above** the TF-IDF + logistic regression baseline's (0.750)" in text


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"base": "embedded", "init": "pretrained"}, "sentence-transformers/all-MiniLM-L6-v2"),
        ({"base": "microsoft/deberta-v3-base", "init": "pretrained"}, "microsoft/deberta-v3-base"),
        ({"base": "./local/model", "init": "pretrained"}, None),
        ({"base": "embedded", "init": "random"}, None),
    ],
)
def test_base_model_is_claimed_only_when_known(model: dict[str, str], expected: str | None) -> None:
    from stance.config import StanceConfig, replace
    from stance.hub.context import CardContext

    ctx = CardContext("alice/x", {}, replace(StanceConfig(), model=model), None, None)
    assert ctx.base == expected


def test_a_folder_failing_the_checks_is_not_uploaded(dry_folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(dry_folder, broken)
    (broken / "confusion_matrix.png").unlink()
    (broken / "model.safetensors").unlink()
    problems = check_folder(broken, MetricsFile.read(broken / "metrics.json"))
    assert any("AutoModelForSequenceClassification cannot load it" in p for p in problems)
    assert any("shows confusion_matrix.png, which is not in the folder" in p for p in problems)


def test_the_report_written_by_stance_train_is_found_and_published(tiny_run, tmp_path: Path) -> None:
    out = tmp_path / "upload"
    result = publish(tiny_run.model_dir, REPO, dry_run=out)  # metrics from RUN/report/metrics.json
    assert result.metrics_path == tiny_run.output_dir / "report" / "metrics.json"
    assert "metrics.json" in result.files and "README.md" in result.files
    card = ModelCard.load(out / "README.md")
    figures = json.loads((out / "metrics.json").read_text())["metrics"]
    assert model_index_figures(card)["macro_f1"][0] == round(figures["macro_f1"], 4)


# ---------------------------------------------------------------------------------------------------------
# the upload


def test_upload_is_one_commit_with_every_file(evaluated_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = RecordingApi()
    result = publish(evaluated_model, REPO, private=True, revision="experiments", tag="v0.1", api=api)
    assert api.names() == [
        "whoami",
        "create_repo",
        "repo_info",
        "list_repo_refs",
        "create_branch",
        "create_commit",
        "create_tag",
    ]
    assert all(kwargs.get("token") == TOKEN for _, kwargs in api.calls)
    repo = api.call("create_repo")
    assert (repo["repo_id"], repo["private"], repo["exist_ok"], repo["repo_type"]) == (REPO, True, True, "model")
    assert api.call("create_branch")["branch"] == "experiments"
    commit = api.call("create_commit")
    assert commit["repo_id"] == REPO and commit["revision"] == "experiments" and not commit["create_pr"]
    assert commit["files"] == expected_files(evaluated_model)
    assert commit["commit_message"].startswith("Upload stance-tiny: macro-F1 0.709 (95% CI 0.659-0.755)")
    tag = api.call("create_tag")
    assert (tag["tag"], tag["revision"]) == ("v0.1", result.commit_oid)
    card = api.uploaded["README.md"].decode()
    assert f'from_pretrained("{REPO}")' in card and "model-index" in card
    assert (result.tag, result.branch_created, result.pr_url) == ("v0.1", True, None)


def test_pull_request_on_an_existing_branch(evaluated_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = RecordingApi(exists_private=False, branches=("main", "dev"))
    result = publish(evaluated_model, REPO, revision="dev", create_pr=True, commit_message="Try the new run", api=api)
    assert "create_branch" not in api.names() and "create_tag" not in api.names()
    commit = api.call("create_commit")
    assert (commit["revision"], commit["create_pr"], commit["commit_message"]) == ("dev", True, "Try the new run")
    assert result.pr_url.endswith("/discussions/1")


def test_existing_public_repo_is_not_uploaded_to_as_private(dry_folder: Path) -> None:
    api = RecordingApi(exists_private=False)
    with pytest.raises(StanceError, match="already exists and is public"):
        upload(dry_folder, REPO, api=api, token=TOKEN, private=True, commit_message="m")
    assert "create_commit" not in api.names()


def test_existing_tag_is_refused_before_the_commit(dry_folder: Path) -> None:
    api = RecordingApi(tags=("v0.1",))
    with pytest.raises(StanceError, match="tag 'v0.1' already exists"):
        upload(dry_folder, REPO, api=api, token=TOKEN, tag="v0.1", commit_message="m")
    assert "create_commit" not in api.names()


def _http_error(status: int, message: str) -> Exception:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    response = httpx2.Response(status, request=httpx2.Request("POST", "https://huggingface.co/api/x"))
    return HfHubHTTPError(message, response=response, server_message=message)


def test_hub_failures_give_one_message_and_no_partial_upload(
    evaluated_model: Path, dry_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = RecordingApi(fail=("whoami", httpx2.ConnectError("[Errno -2] Name or service not known")))
    with pytest.raises(StanceError, match="cannot reach the Hugging Face Hub .*nothing was uploaded"):
        publish(evaluated_model, REPO, api=api)
    assert api.names() == ["whoami"]

    api = RecordingApi(fail=("whoami", _http_error(401, "Invalid credentials")))
    with pytest.raises(StanceError, match=r"answered 401 \(the token was rejected"):
        upload(dry_folder, REPO, api=api, token=TOKEN, commit_message="m")

    api = RecordingApi(fail=("create_commit", _http_error(500, "Internal error")))
    with pytest.raises(StanceError, match="uploading the commit: the hub answered 500.*a commit is all files or none"):
        upload(dry_folder, REPO, api=api, token=TOKEN, tag="v1", commit_message="m")
    assert "create_tag" not in api.names()

    api = RecordingApi(fail=("create_tag", _http_error(409, "Conflict")))
    with pytest.raises(StanceError, match="the commit is on the hub .*hf repo tag create"):
        upload(dry_folder, REPO, api=api, token=TOKEN, tag="v1", commit_message="m")
    assert api.names().count("create_commit") == 1


def test_offline_mode_is_reported_by_the_real_client(evaluated_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not constants.HF_HUB_OFFLINE:
        pytest.skip("needs HF_HUB_OFFLINE=1 (set by conftest) so the real HfApi cannot touch the network")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(StanceError, match="HF_HUB_OFFLINE is set.*nothing was uploaded"):
        publish(evaluated_model, REPO)  # a real HfApi, refused by offline mode at its first request


# ---------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "repo_id",
    ["stance-tiny", "alice/team/stance", "alice/bad--name", "alice/", "/stance", "alice/with space", "alice/x.git", ""],
)
def test_bad_repo_ids_are_refused_first(repo_id: str, tmp_path: Path) -> None:
    with pytest.raises(StanceError, match="--repo-id"):
        publish(tmp_path / "no-such-model", repo_id, dry_run=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_token_is_refused(evaluated_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))  # no stored `hf auth login` either
    api = RecordingApi()
    with pytest.raises(StanceError, match="no Hugging Face token: set HF_TOKEN .* `hf auth login`"):
        publish(evaluated_model, REPO, api=api)
    assert api.calls == []


def test_a_folder_that_is_not_a_trained_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(StanceError, match="not a model folder"):
        publish(tmp_path / "empty", REPO, dry_run=tmp_path / "out1")
    with pytest.raises(StanceError, match="model folder not found"):
        publish(tmp_path / "missing", REPO, dry_run=tmp_path / "out2")
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "stance_config.yaml").unlink()
    with pytest.raises(StanceError, match="no stance_config.yaml"):
        publish(model, REPO, dry_run=tmp_path / "out3")


def test_unevaluated_needs_the_flag_and_says_so(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = copy_model(tiny_model_dir, tmp_path)
    with pytest.raises(StanceError, match="no metrics.json .*--allow-unevaluated"):
        publish(model, REPO, dry_run=tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    out = tmp_path / "upload"
    result = publish(model, REPO, dry_run=out, allow_unevaluated=True)
    assert "metrics.json" not in result.files and result.metrics_path is None
    card = ModelCard.load(out / "README.md")
    assert card.data.eval_results is None and "unevaluated" in card.data.tags
    assert "**This model has not been evaluated on held-out data**" in card.text
    assert "It has **not been evaluated**" in card.text.split("## Limitations", 1)[1]
    assert check_card(out / "README.md", None) == []
    text = (out / "README.md").read_text()
    assert text.startswith("---\n")
    with_index = tmp_path / "with_index.md"  # an unevaluated card must not carry figures
    with_index.write_text(
        text.replace(
            "---\n",
            "---\nmodel-index:\n- name: x\n  results:\n"
            "  - task: {type: text-classification}\n    dataset: {name: d, type: d}\n"
            "    metrics: [{type: accuracy, value: 0.9}]\n",
            1,
        )
    )
    assert any("model-index but no metrics.json" in p for p in check_card(with_index, None))


def test_metrics_are_looked_up_next_to_the_model_or_given(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = copy_model(tiny_model_dir, tmp_path)
    inside = write_report(model, model)  # MODEL_DIR/metrics.json
    assert publish(model, REPO, dry_run=tmp_path / "a").metrics_path == inside
    elsewhere = write_report(tmp_path / "eval", model)
    assert publish(model, REPO, dry_run=tmp_path / "b", metrics_path=elsewhere).metrics_path == elsewhere
    with pytest.raises(StanceError, match="--metrics .*: file not found"):
        publish(model, REPO, dry_run=tmp_path / "c", metrics_path=tmp_path / "nope.json")


def test_invalid_or_foreign_metrics_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = copy_model(tiny_model_dir, tmp_path)
    bad = make_metrics(str(model))
    bad["metrics"]["macro_f1"] = "high"
    del bad["per_class"]["denying"]
    bad["confusion_matrix"]["counts"] = [[1, 2], [3, 4]]
    write_report(model.parent / "report", model, **{k: bad[k] for k in ("metrics", "per_class", "confusion_matrix")})
    with pytest.raises(StanceError) as info:
        publish(model, REPO, dry_run=tmp_path / "out")
    message = str(info.value)
    assert "not a metrics.json of schema_version 1" in message and "report/metrics.json" in message
    for problem in (
        "metrics.macro_f1: expected a number",
        "per_class.denying: missing",
        "confusion_matrix.counts: expected a 3×3 table",
    ):
        assert problem in message

    other = tmp_path / "other-model"
    other.mkdir()
    (other / "config.json").write_text("{}")
    write_report(model.parent / "report", model, model=str(other))
    with pytest.raises(StanceError, match="evaluates the model .*other-model, not"):
        publish(model, REPO, dry_run=tmp_path / "out")

    write_report(model.parent / "report", model)
    (model.parent / "report" / "reliability.png").unlink()
    with pytest.raises(StanceError, match="names plots that are not there"):
        publish(model, REPO, dry_run=tmp_path / "out")


def test_dry_run_refuses_a_non_empty_folder_and_a_tag_on_a_pr(evaluated_model: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(StanceError, match="not empty"):
        publish(evaluated_model, REPO, dry_run=tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
    with pytest.raises(StanceError, match="inside the model folder"):
        publish(evaluated_model, REPO, dry_run=evaluated_model / "upload")
    with pytest.raises(StanceError, match="--tag with --create-pr"):
        publish(evaluated_model, REPO, tag="v1", create_pr=True, api=RecordingApi())


def test_cli(evaluated_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish", str(evaluated_model), "--repo-id", REPO, "--dry-run", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "offline checks passed" in out and "  README.md" in out
    assert main(["publish", str(evaluated_model), "--repo-id", "no-owner", "--dry-run", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stance publish: error: --repo-id 'no-owner': expected OWNER/NAME") and "Traceback" not in err
    with pytest.raises(SystemExit):  # no way to pass a token on the command line
        main(["publish", str(evaluated_model), "--repo-id", REPO, "--token", "hf_x"])


def test_card_provenance_comes_from_the_training_data_s_dataset_card(tiny_model_dir: Path, tmp_path: Path) -> None:
    """No project data in the library: a dataset card tagged `synthetic` beside the training file says so."""
    from stance.config import StanceConfig, replace
    from stance.hub.limitations import _provenance
    from stance.hub.publish import data_provenance

    data = tmp_path / "corpus"
    data.mkdir()
    (data / "train.jsonl").write_text("")
    (data / "README.md").write_text("---\nlicense: cc-by-4.0\npretty_name: My corpus\ntags:\n- synthetic\n---\n# x\n")
    config = replace(StanceConfig(), data={"train": str(data / "train.jsonl")})
    found = data_provenance(config)
    assert (found.name, found.license, found.synthetic) == ("My corpus", "cc-by-4.0", True)
    (data / "README.md").write_text("---\nlicense: mit\n---\n")
    assert data_provenance(config).synthetic is False
    assert data_provenance(replace(StanceConfig(), data={"train": str(tmp_path / "t.jsonl")})) is None
    from stance.hub.context import CardContext

    ctx = CardContext("a/b", {}, config, None, None, provenance=found)
    assert "tagged **synthetic**" in _provenance(ctx)


def test_a_distilled_model_s_card_names_its_teacher() -> None:
    from stance.config import StanceConfig
    from stance.hub.context import CardContext
    from stance.hub.sections import intro

    ctx = CardContext("a/b", {"stance_distilled_from": "runs/default/model"}, StanceConfig(), None, None)
    assert "distilled from the teacher model `runs/default/model`" in intro(ctx)
    assert "distilled" not in intro(CardContext("a/b", {}, StanceConfig(), None, None))
