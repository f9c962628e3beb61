"""Path-to-layer rules, their overrides, and the TOML settings file that carries them."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskrisk.errors import InputError
from taskrisk.layers import DEFAULT_RULES, LayerMap, LayerRule
from taskrisk.model import Layer, Severity
from taskrisk.scoring import SeverityWeights
from taskrisk.sources import load_settings


@pytest.mark.parametrize(
    ("path", "layer"),
    [
        ("src/taskapi/entrypoints/api.py", Layer.ENTRYPOINT),
        ("handlers/create_task.py", Layer.ENTRYPOINT),
        ("functions/tasks/handlers/update.py", Layer.ENTRYPOINT),
        ("src/notification_service/handler.py", Layer.ENTRYPOINT),
        ("src/app/tasks_api.py", Layer.ENTRYPOINT),
        ("src/taskapi/domain/rules.py", Layer.DOMAIN),
        ("src/taskapi/domain/model.py", Layer.DOMAIN),
        ("src/taskapi/service/tasks.py", Layer.SERVICE),
        ("src/taskapi/adapters/dynamodb.py", Layer.ADAPTER),
        ("src/store/task_repository.py", Layer.ADAPTER),
        ("lib/dynamodb_client.py", Layer.ADAPTER),
        ("src/taskapi/adapters/dynamodb_models.py", Layer.ADAPTER),
        ("src/app/models/task.py", Layer.MODEL),
        ("schemas/task_created.json", Layer.MODEL),
        ("template.yaml", Layer.INFRASTRUCTURE),
        ("deploy/network.tf", Layer.INFRASTRUCTURE),
        ("infra/lambda/handler.py", Layer.INFRASTRUCTURE),
        ("src/taskapi/bootstrap.py", Layer.INFRASTRUCTURE),
        ("README.md", Layer.UNKNOWN),
        ("SRC\\TaskApi\\Domain\\Rules.py", Layer.DOMAIN),
    ],
)
def test_default_rules_place_common_paths(path: str, layer: Layer) -> None:
    assert LayerMap().layer_of(path) is layer


def test_a_pattern_without_glob_characters_matches_anywhere() -> None:
    rule = LayerRule("legacy", Layer.ADAPTER)
    assert rule.matches("src/legacy_sync/x.py")
    assert not rule.matches("src/modern/x.py")


def test_a_glob_is_anchored_to_the_whole_path() -> None:
    rule = LayerRule("src/jobs/*", Layer.SERVICE)
    assert rule.matches("src/jobs/nightly/report.py")  # "*" crosses "/"
    assert not rule.matches("other/src/jobs/report.py")


def test_user_rules_win_over_defaults_and_defaults_still_apply() -> None:
    layer_map = LayerMap.with_overrides([LayerRule("*/domain/events.py", Layer.MODEL)])
    assert layer_map.layer_of("src/taskapi/domain/events.py") is Layer.MODEL
    assert layer_map.layer_of("src/taskapi/domain/rules.py") is Layer.DOMAIN


def test_defaults_can_be_replaced() -> None:
    layer_map = LayerMap.with_overrides([LayerRule("*/jobs/*", Layer.SERVICE)], keep_defaults=False)
    assert layer_map.rules == (LayerRule("*/jobs/*", Layer.SERVICE),)
    assert layer_map.layer_of("src/taskapi/domain/rules.py") is Layer.UNKNOWN


def test_the_first_matching_rule_wins() -> None:
    layer_map = LayerMap(
        rules=(LayerRule("*.py", Layer.SERVICE), LayerRule("*domain*", Layer.DOMAIN))
    )
    assert layer_map.layer_of("domain/rules.py") is Layer.SERVICE


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_settings_file_carries_layers_weights_columns_and_aliases(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            """
replace_default_layers = false

[layers]
"*/functions/*" = "handler"
"src/shared/*" = "domain"

[weights]
critical = 8
high = 4

[columns]
"Issue key" = "id"

[severity_aliases]
Blocker = "critical"
""",
        )
    )

    layer_map = settings.layer_map()
    assert layer_map.rules[:2] == (
        LayerRule("*/functions/*", Layer.ENTRYPOINT),
        LayerRule("src/shared/*", Layer.DOMAIN),
    )
    assert layer_map.rules[2:] == DEFAULT_RULES
    assert settings.severity_weights() == SeverityWeights(critical=8, high=4, medium=2, low=1)
    assert settings.severity_weights({Severity.HIGH: 3}).high == 3  # the command line wins
    assert settings.columns == {"Issue key": "id"}
    assert settings.severity_aliases == {"blocker": Severity.CRITICAL}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[layers\n", "not valid TOML"),
        ('[layer]\n"x" = "domain"\n', "layer: Extra inputs are not permitted"),
        ('[layers]\n"*/ui/*" = "frontend"\n', "unknown layer 'frontend'"),
        ("[weights]\nurgent = 3\n", "weights.urgent.[key]"),
        ("[weights]\nhigh = -1\n", "greater than or equal to 0"),
        ('[columns]\n"Key" = "identifier"\n', "'identifier', which is not a bug record field"),
        ('[severity_aliases]\nblocker = "fatal"\n', "severity_aliases.blocker"),
    ],
)
def test_a_bad_settings_file_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InputError) as raised:
        load_settings(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_missing_settings_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_settings(tmp_path / "absent.toml")
