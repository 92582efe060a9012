"""The config file: ${VAR} expansion, validation errors that name file, line and field."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from switchboard.catalog.loader import build_catalog
from switchboard.config import ConfigError, load_file, parse_text
from switchboard.settings import load_settings

GOOD = """
markup: 0.2
providers:
  - name: local
    api: openai
    base_url: http://127.0.0.1:9/v1
    api_key: ${LOCAL_KEY}
models:
  - id: acme/model-1
    context_length: 4096
    endpoints:
      - provider: local
        model: m1
        pricing: {prompt: 1, completion: 2}
"""


def test_vars_are_expanded_and_models_merge_with_builtin(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    path = tmp_path / "sb.yaml"
    path.write_text(GOOD)
    settings = load_settings(str(path))
    assert settings.markup == Decimal("0.2")
    assert settings.catalog.providers["local"].api_key == "sk-local"
    assert "acme/model-1" in settings.catalog.models
    assert "anthropic/claude-sonnet-4.6" in settings.catalog.models  # built-in kept
    assert "switchboard/echo" in settings.catalog.models  # simulator always there


def test_default_value_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_PORT", raising=False)
    conf, _ = parse_text(GOOD.replace("127.0.0.1:9", "127.0.0.1:${NOPE_PORT:-18001}"), "x.yaml")
    assert conf.providers[0].base_url == "http://127.0.0.1:18001/v1"


@pytest.mark.parametrize(("text", "line", "field"), [
    ("markup: lots\n", 1, "markup"),
    ("providers:\n  - name: p\n    api: soap\n    base_url: x\n", 3, "providers[0].api"),
    ("models:\n  - id: a/b\n    context_length: -5\n    endpoints: []\n", 3,
     "models[0].context_length"),
    ("providers:\n  - name: p\n    api: openai\n    colour: red\n", 4, "providers[0].colour"),
    ("logging:\n  store_content: maybe\n", 2, "logging.store_content"),
])
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, line: int,
                                         field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_file(path)
    msg = str(info.value)
    assert str(path) in msg and f"line {line}" in msg and field in msg


def test_unknown_provider_reference_names_the_line(tmp_path: Path) -> None:
    text = GOOD.replace("provider: local", "provider: ghost")
    conf, node = parse_text(text, "sb.yaml")
    with pytest.raises(ConfigError) as info:
        build_catalog(conf, node, "sb.yaml")
    assert "line 12" in str(info.value) and "ghost" in str(info.value)


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_text("providers: [\n  - name: x\n", "broken.yaml")
    assert "broken.yaml line" in str(info.value)


def test_config_check_command(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text("markup: lots\n")
    exe = [sys.executable, "-m", "switchboard.cli.main", "config", "check"]
    ok = subprocess.run([*exe, str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    fail = subprocess.run([*exe, str(bad)], capture_output=True, text=True)
    assert fail.returncode == 2
    assert "line 1" in fail.stderr and "markup" in fail.stderr and "Traceback" not in fail.stderr


def test_seed_prices_shown_with_markup() -> None:
    from switchboard.api.catalog import model_entry

    catalog = build_catalog()
    entry = model_entry(catalog.models["anthropic/claude-sonnet-4.6"], Decimal("0.10"), "")
    assert entry["pricing"]["prompt"] == "0.0000033"
    assert entry["pricing"]["completion"] == "0.0000165"
