"""`switchboard models`: list, search, filters, show, narrow terminals."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, no_traceback


def _ids(stdout: str) -> set[str]:
    return {line.split()[0] for line in stdout.splitlines() if "/" in line.split()[0]}


def test_models_lists_ids_context_and_prices_per_million(cli: Cli) -> None:
    r = cli("models")
    assert r.exit_code == 0, r.output
    assert _ids(r.stdout) == {"test/gpt", "switchboard/echo", "switchboard/lorem",
                              "openrouter/auto"}
    row = next(line for line in r.stdout.splitlines() if line.startswith("test/gpt"))
    # alpha is the top endpoint: 0.15 and 0.6 per million, plus the 10 % markup
    assert row.split()[1:] == ["128,000", "$0.165", "$0.66"]
    echo = next(line for line in r.stdout.splitlines() if line.startswith("switchboard/echo"))
    assert echo.split()[1:] == ["1,000,000", "free", "free"]


def test_models_search_and_explicit_list_subcommand(cli: Cli) -> None:
    assert _ids(cli("models", "GPT").stdout) == {"test/gpt"}
    assert _ids(cli("models", "list", "lorem").stdout) == {"switchboard/lorem"}
    nothing = cli("models", "no-such-thing")
    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert "no models match" in nothing.stderr


def test_models_free_and_provider_filters(cli: Cli) -> None:
    assert _ids(cli("models", "--free").stdout) == {"switchboard/echo", "switchboard/lorem"}
    assert _ids(cli("models", "--provider", "beta").stdout) == {"test/gpt"}
    assert _ids(cli("models", "--provider", "Switchboard Simulator").stdout) == {
        "switchboard/echo", "switchboard/lorem"}
    assert _ids(cli("models", "echo", "--provider", "simulator").stdout) == {"switchboard/echo"}


def test_models_json_is_the_api_data(cli: Cli) -> None:
    r = cli("models", "gpt", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)["data"]
    assert [m["id"] for m in data] == ["test/gpt"]
    assert data[0]["pricing"]["prompt"] == "0.000000165"


def test_models_show_lists_every_endpoint(cli: Cli) -> None:
    r = cli("models", "show", "test/gpt", env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    assert "Test GPT" in r.stdout
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()
            if line.strip().startswith(("Alpha", "Beta"))}
    assert rows["Alpha"] == ["128,000", "1,000", "$0.165", "$0.66", "-", "ok"]
    assert rows["Beta"] == ["128,000", "1,000", "$3.30", "$16.50", "-", "ok"]


def test_models_show_unknown_suggests_close_ids(cli: Cli) -> None:
    r = cli("models", "show", "test/gtp")
    assert r.exit_code == 5
    assert "did you mean test/gpt" in r.stderr
    assert cli("models", "show", "gpt").exit_code == 5
    no_traceback(r)


def test_narrow_terminal_wraps_instead_of_crashing(cli: Cli) -> None:
    for args in (["models"], ["models", "show", "test/gpt"]):
        r = cli(*args, env={"COLUMNS": "40"})
        assert r.exit_code == 0, r.output
        assert max(len(line) for line in r.stdout.splitlines()) <= 40, r.stdout
