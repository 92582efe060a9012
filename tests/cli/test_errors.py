"""Each error class: one line on stderr, its own exit code, no traceback."""

from __future__ import annotations

import subprocess

import pytest
from tests.cli.conftest import SCRIPT, Cli, no_traceback
from tests.support import MockUpstream, Reply, free_port

from switchboard.cli.failures import (
    EXIT_AUTH,
    EXIT_CREDIT,
    EXIT_NOT_FOUND,
    EXIT_RATE_LIMIT,
    EXIT_UNREACHABLE,
)


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_bad_key_exits_3(cli: Cli) -> None:
    r = cli("chat", "switchboard/echo", "hi", key="sk-sb-v1-not-a-real-key")
    assert r.exit_code == EXIT_AUTH
    line = _one_error_line(r.stderr)
    assert "Invalid API key" in line and "SWITCHBOARD_API_KEY" in line
    no_traceback(r)


def test_missing_key_exits_3_and_says_how_to_set_one(cli: Cli) -> None:
    r = cli("credits", key=None)
    assert r.exit_code == EXIT_AUTH
    assert "no API key" in _one_error_line(r.stderr)


def test_no_credit_exits_4(cli: Cli) -> None:
    created = cli.admin("keys", "create", "tiny", "--limit", "0.000001")
    assert created.exit_code == 0, created.output
    r = cli("chat", "test/gpt", "an expensive question", key=created.stdout.strip())
    assert r.exit_code == EXIT_CREDIT
    line = _one_error_line(r.stderr)
    assert "402" in line and "credits charge" in line
    assert r.stdout == ""


def test_unknown_model_exits_5_with_close_matches(cli: Cli) -> None:
    r = cli("chat", "test/gtp", "hi")
    assert r.exit_code == EXIT_NOT_FOUND
    assert "did you mean test/gpt?" in _one_error_line(r.stderr)
    lorem = cli("chat", "switchboard/lorme", "hi", "--json")
    assert lorem.exit_code == EXIT_NOT_FOUND
    assert "switchboard/lorem" in _one_error_line(lorem.stderr)


def test_a_known_model_filtered_away_gets_no_suggestion(cli: Cli) -> None:
    for model in ("test/gpt", "test/gpt:nitro"):
        r = cli("chat", model, "hi", "--provider-only", "nobody")
        assert r.exit_code == EXIT_NOT_FOUND
        line = _one_error_line(r.stderr)
        assert "did you mean" not in line and "only" in line


def test_a_catalog_variant_that_does_not_exist_suggests_the_base_model(cli: Cli) -> None:
    r = cli("chat", "test/gpt:free", "hi")
    assert r.exit_code == EXIT_NOT_FOUND
    assert "did you mean test/gpt" in _one_error_line(r.stderr)


def test_rate_limited_exits_6_and_shows_the_wait(cli: Cli, upstream: MockUpstream) -> None:
    # a Retry-After above the provider's 5 s cap is not waited out by the gateway
    limited = Reply(status=429, headers={"Retry-After": "30"},
                    json={"error": {"message": "slow down", "code": 429}})
    upstream.script("/alpha/", limited, limited)
    r = cli("chat", "test/gpt", "hi", "--provider-only", "alpha")
    assert r.exit_code == EXIT_RATE_LIMIT
    line = _one_error_line(r.stderr)
    assert "rate limited (429)" in line and "retry in 30s" in line
    no_traceback(r)


def test_unreachable_server_exits_7_and_names_the_url(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1"
    for args in (["chat", "switchboard/echo", "hi"], ["models"], ["keys", "list"]):
        r = cli(*args, env={"SWITCHBOARD_BASE_URL": url})
        assert r.exit_code == EXIT_UNREACHABLE, r.output
        line = _one_error_line(r.stderr)
        assert url in line and "SWITCHBOARD_BASE_URL" in line


def test_base_url_without_api_v1_is_explained(cli: Cli) -> None:
    root = cli.gateway.base_url.removesuffix("/api/v1")
    r = cli("credits", env={"SWITCHBOARD_BASE_URL": root})
    assert r.exit_code == EXIT_NOT_FOUND
    assert "no such endpoint" in _one_error_line(r.stderr)


def test_other_api_errors_exit_1(cli: Cli) -> None:
    r = cli("chat", "switchboard/echo", "hi", "--extra", '{"temperature": "hot"}')
    assert r.exit_code == 1
    assert "(400)" in _one_error_line(r.stderr)


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("chat").exit_code == 2
    assert cli("keys", "create", "x", "--reset", "hourly").exit_code == 2
    assert cli("chat", "switchboard/echo", "hi", "--temperature", "9").exit_code == 2


COMMANDS = [
    ["chat"], ["models"], ["models", "list"], ["models", "show"], ["keys"],
    ["keys", "create"], ["keys", "list"], ["keys", "disable"], ["keys", "enable"],
    ["keys", "delete"], ["credits"], ["credits", "show"], ["credits", "charge"],
    ["activity"], ["generation"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(cli: Cli, command: list[str]) -> None:
    r = cli(*command, "--help")
    assert r.exit_code == 0, r.output
    assert "Example: switchboard" in r.stdout or "Example: KEY=$(switchboard" in r.stdout


def test_shell_completion_is_offered(cli: Cli) -> None:
    top = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True,
                         env=cli.process_env(), timeout=30)
    assert "--install-completion" in top.stdout
    shown = subprocess.run([SCRIPT, "--show-completion", "bash"], capture_output=True,
                           text=True, env=cli.process_env(), timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "complete" in shown.stdout and "switchboard" in shown.stdout
