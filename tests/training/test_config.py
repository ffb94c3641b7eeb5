"""Layered run config: defaults, then YAML, then ``--set``; unknown keys and bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError, RunConfig, dump_config, load_config, parse_override

YAML = """\
name: from-yaml
data:
  source: data/log.csv
  columns:
    user: uid
model:
  hidden: 32
  blocks: 3
train:
  lr: 0.0003
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(YAML)
    return path


def test_defaults_apply_without_a_file() -> None:
    assert load_config() == RunConfig()


def test_yaml_values_override_defaults_and_keep_the_rest(config_file: Path) -> None:
    config = load_config(config_file)
    assert config.name == "from-yaml"
    assert config.data.columns.user == "uid"
    assert config.data.columns.item == "item_id"  # a nested default survives
    assert (config.model.hidden, config.model.blocks, config.model.heads) == (32, 3, 1)
    assert config.train.lr == 3e-4


def test_set_overrides_win_over_yaml_with_yaml_typed_values(config_file: Path) -> None:
    config = load_config(
        config_file,
        [
            "model.hidden=16",
            "model.dropout=0.3",
            "data.columns.user=user",
            "data.columns.timestamp=null",
            "train.progress=false",
            "train.betas=[0.8, 0.9]",
            "eval.ks=[20, 5, 5]",
            "eval.target_metric=ndcg@5",
            "split.protocol=loo",
            "output_dir=/tmp/out",
        ],
    )
    assert config.model.hidden == 16 and isinstance(config.model.hidden, int)
    assert config.model.dropout == 0.3
    assert config.model.blocks == 3  # from the YAML, untouched
    assert config.data.columns.user == "user"
    assert config.data.columns.timestamp is None
    assert config.train.progress is False
    assert config.train.betas == (0.8, 0.9)
    assert config.eval.ks == [5, 20]  # sorted, de-duplicated
    assert config.split.protocol == "loo"
    assert config.run_dir == Path("/tmp/out/from-yaml")


def test_a_set_override_can_create_a_section_the_yaml_lacks(config_file: Path) -> None:
    assert load_config(config_file, ["eval.batch_size=7"]).eval.batch_size == 7
    assert load_config(None, ["model.max_len=12"]).model.max_len == 12


def test_the_last_of_repeated_overrides_wins() -> None:
    assert load_config(None, ["model.hidden=8", "model.hidden=24"]).model.hidden == 24


def test_a_dumped_config_loads_back_unchanged(tmp_path: Path, config_file: Path) -> None:
    config = load_config(config_file, ["eval.ks=[1, 10]"])
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(dump_config(config))
    assert load_config(dumped) == config


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "key"),
    [
        ("model:\n  hiddn: 8\n", [], "model.hiddn"),
        ("trian:\n  epochs: 1\n", [], "trian"),
        ("", ["train.epoch=3"], "train.epoch"),
        ("", ["data.columns.usr=u"], "data.columns.usr"),
    ],
)
def test_unknown_keys_are_refused_with_the_key_named(
    tmp_path: Path, yaml_text: str, overrides: list[str], key: str
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        load_config(path, overrides)
    message = str(caught.value)
    assert f"{key}: Extra inputs are not permitted" in message
    assert str(path) in message  # the file is named too


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("model.hidden=0", "model.hidden"),
        ("model.hidden=big", "model.hidden"),
        ("model.dropout=1.0", "model.dropout"),
        ("model.arch=transformer", "model.arch"),
        ("train.lr=-1", "train.lr"),
        ("train.device=tpu", "train.device"),
        ("split.protocol=random", "split.protocol"),
        ("split.holdout_fraction=1.5", "split.holdout_fraction"),
        ("data.format=xml", "data.format"),
        ("eval.ks=[]", "eval.ks"),
        ("eval.ks=[0, 10]", "eval.ks"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(override: str, field: str) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        load_config(None, [override])
    assert f"{field}:" in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [["model.hidden=16", "model.heads=3"], ["model.arch=rope", "model.hidden=6", "model.heads=2"]],
    ids=["heads-do-not-divide-hidden", "odd-rope-head-size"],
)
def test_a_model_shape_the_model_cannot_build_is_refused(overrides: list[str]) -> None:
    with pytest.raises(ConfigError, match=r"model\."):
        load_config(None, overrides)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("model.hidden", "is not of the form key.path=value"),
        ("=3", "is not of the form key.path=value"),
        ("model.hidden=[1, 2", "value is not valid YAML"),
    ],
)
def test_malformed_overrides_are_refused(override: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config(None, [override])


def test_an_override_below_a_plain_value_is_refused() -> None:
    with pytest.raises(ConfigError, match="'name' is not a section"):
        load_config(None, ["name=run", "name.first=x"])


def test_parse_override_types_values_as_yaml() -> None:
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=0.5") == (["a"], 0.5)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=") == (["a"], "")
    assert parse_override("a=x=y") == (["a"], "x=y")


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml does not exist"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "problem"),
    [("model: [unclosed\n", "not valid YAML"), ("- just\n- a list\n", "must be a mapping")],
)
def test_a_config_file_that_is_not_a_yaml_mapping_is_refused(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_config(path)
