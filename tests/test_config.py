from __future__ import annotations

from pathlib import Path

import pytest

from stance.config import DEFAULT_TARGET, StanceConfig, load_config
from stance.errors import StanceError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["default", "tiny", "gpu"])
def test_shipped_configs_load(name: str) -> None:
    config = load_config(ROOT / "configs" / f"{name}.yaml")
    assert isinstance(config, StanceConfig)
    assert config.data.default_target == DEFAULT_TARGET


def test_override_changes_field_and_type_checks() -> None:
    config = load_config(
        ROOT / "configs" / "tiny.yaml",
        ["training.epochs=7", "training.class_weights=false", "training.learning_rate=5e-5"],
    )
    assert config.training.epochs == 7.0
    assert config.training.learning_rate == 5e-5  # YAML 1.1 reads 5e-5 as a string
    assert config.training.class_weights is False
    with pytest.raises(StanceError, match=r"--set training.epochs: expected float"):
        load_config(ROOT / "configs" / "tiny.yaml", ["training.epochs=many"])


def test_unknown_key_names_line_and_lists_valid_keys(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  epochs: 2\n  learnin_rate: 0.1\n")
    with pytest.raises(StanceError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}:3: training.learnin_rate: unknown key" in message
    assert "learning_rate" in message  # the valid keys are listed


def test_unknown_section_and_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("optimiser:\n  lr: 1\n")
    with pytest.raises(StanceError, match="unknown section; valid sections: model, data, training, output"):
        load_config(path)
    path.write_text("model:\n  max_length: long\n")
    with pytest.raises(StanceError, match=r":2: model.max_length: expected int, got 'long'"):
        load_config(path)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("training: [epochs: 2\n")
    with pytest.raises(StanceError, match="invalid YAML"):
        load_config(path)
    with pytest.raises(StanceError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_bad_override_syntax() -> None:
    with pytest.raises(StanceError, match="expected section.key=value"):
        load_config(None, ["epochs=3"])


def test_saved_config_round_trips(tmp_path: Path) -> None:
    config = load_config(ROOT / "configs" / "tiny.yaml", ["training.seed=5"])
    config.save(tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == config
