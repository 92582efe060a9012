"""`switchboard keys|credits|activity|generation` against the real gateway."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.cli.conftest import Cli, no_traceback
from tests.support import MockUpstream, Reply, openai_completion


def _row(stdout: str, first: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines() if line.startswith(first))


def test_keys_create_prints_the_key_alone_on_stdout(cli: Cli) -> None:
    r = cli.admin("keys", "create", "ci-bot", "--limit", "5", "--reset", "monthly")
    assert r.exit_code == 0, r.output
    key = r.stdout.strip()
    assert key.startswith("sk-sb-v1-") and "\n" not in key
    assert "ci-bot" in r.stderr and "$5.00 monthly" in r.stderr and "shown again" in r.stderr
    # the new key works
    assert cli("chat", "switchboard/echo", "hi", key=key).stdout == "hi\n"


def test_keys_list_disable_enable_delete(cli: Cli) -> None:
    created = json.loads(cli.admin("keys", "create", "temp", "--limit", "2", "--json").stdout)
    key, full_hash = created["key"], created["data"]["hash"]
    listed = cli.admin("keys", "list", env={"COLUMNS": "120"})
    assert listed.exit_code == 0, listed.output
    row = _row(listed.stdout, full_hash[:16])
    assert row[1:5] == ["temp", "active", "$2.00", "$2.00"]

    # a prefix is enough, as in the table
    r = cli.admin("keys", "disable", full_hash[:10])
    assert r.exit_code == 0, r.output
    assert full_hash in r.stdout and "disabled" in r.stdout
    assert _row(cli.admin("keys", "list", env={"COLUMNS": "120"}).stdout,
                full_hash[:16])[2] == "disabled"
    refused = cli("chat", "switchboard/echo", "hi", key=key)
    assert refused.exit_code == 3 and "disabled" in refused.stderr

    assert cli.admin("keys", "enable", full_hash).exit_code == 0
    assert cli("chat", "switchboard/echo", "back", key=key).exit_code == 0

    r = cli.admin("keys", "delete", full_hash)
    assert r.exit_code == 0 and "deleted" in r.stdout
    assert full_hash[:16] not in cli.admin("keys", "list").stdout
    gone = cli.admin("keys", "delete", full_hash)
    assert gone.exit_code == 5
    no_traceback(gone)


def test_keys_with_an_inference_key_is_refused_with_a_hint(cli: Cli) -> None:
    r = cli("keys", "list")
    assert r.exit_code == 1
    assert "provisioning or root key" in r.stderr and "--api-key" in r.stderr


def test_keys_commands_use_the_servers_admin_key_variable(cli: Cli) -> None:
    r = cli("keys", "list", env={"SWITCHBOARD_ADMIN_KEY": cli.gateway.admin_key})
    assert r.exit_code == 0, r.output
    assert "cli" in r.stdout


def test_credits_and_credits_charge(cli: Cli) -> None:
    r = cli("credits")
    assert r.exit_code == 0, r.output
    assert _row(r.stdout, "credits") == ["credits", "$100.00"]
    assert _row(r.stdout, "balance") == ["balance", "$100.00"]
    assert json.loads(cli("credits", "--json").stdout)["data"]["total_credits"] == 100

    charged = cli.admin("credits", "charge", "25.5")
    assert charged.exit_code == 0, charged.output
    assert _row(charged.stdout, "credits") == ["credits", "$125.50"]
    assert _row(cli("credits", "show").stdout, "balance") == ["balance", "$125.50"]

    missing = cli.admin("credits", "charge", "5", "--account", "no-such-account")
    assert missing.exit_code == 5 and "no-such-account" in missing.stderr
    assert cli("credits", "charge", "5").exit_code == 1  # an inference key may not
    assert cli.admin("credits", "charge", "0").exit_code == 2


def _spend(cli: Cli, upstream: MockUpstream) -> str:
    upstream.script("/alpha/", Reply(json=openai_completion("ok", prompt=1000, completion=500)))
    r = cli("chat", "test/gpt", "spend", "--json", "--provider-only", "alpha")
    assert r.exit_code == 0, r.output
    return str(json.loads(r.stdout)["id"])


def test_activity_table_and_chart(cli: Cli, upstream: MockUpstream) -> None:
    _spend(cli, upstream)
    today = datetime.now(UTC).date().isoformat()
    r = cli("activity", env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    # 1000 × 0.15/M + 500 × 0.6/M = 0.00045, plus 10 %
    assert _row(r.stdout, today) == [today, "test/gpt", "Alpha", "1", "1,000", "500",
                                     "$0.000495"]
    assert _row(cli("activity", "--date", today).stdout, today)[1] == "test/gpt"
    assert _row(cli("activity", "--date", "today").stdout, today)[1] == "test/gpt"

    chart = cli("activity", "--chart", env={"COLUMNS": "60"})
    assert chart.exit_code == 0, chart.output
    line = chart.stdout.strip().splitlines()[-1]
    assert line.startswith(today[5:]) and "█" in line and line.endswith("$0.000495")
    assert len(line) <= 60
    narrow = cli("activity", "--chart", env={"COLUMNS": "40"})
    assert max(len(x) for x in narrow.stdout.splitlines()) <= 40


def test_activity_bad_date_is_a_usage_error_and_empty_days_say_so(cli: Cli) -> None:
    bad = cli("activity", "--date", "yesterdayish")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr
    empty = cli("activity", "--date", "yesterday")
    assert empty.exit_code == 0 and empty.stdout == "" and "no activity" in empty.stderr


def test_generation_shows_the_record(cli: Cli, upstream: MockUpstream) -> None:
    gen_id = _spend(cli, upstream)
    r = cli("generation", gen_id, env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    fields = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip()
              for line in r.stdout.splitlines() if "  " in line}
    assert fields["id"] == gen_id
    assert fields["model"] == "test/gpt"
    assert fields["provider"] == "Alpha"
    assert fields["tokens"] == "1,000 prompt, 500 completion"
    assert fields["cost"] == "$0.000495"
    assert fields["app"] == "Switchboard CLI"  # the CLI names itself with X-Title
    assert fields["attempts"] == "Alpha 200"
    assert json.loads(cli("generation", gen_id, "--json").stdout)["data"]["id"] == gen_id
    missing = cli("generation", "gen-does-not-exist")
    assert missing.exit_code == 5


def test_account_tables_fit_a_40_column_terminal(cli: Cli, upstream: MockUpstream) -> None:
    gen_id = _spend(cli, upstream)
    narrow = {"COLUMNS": "40"}
    for result in (cli.admin("keys", "list", env=narrow), cli("activity", env=narrow),
                   cli("generation", gen_id, env=narrow), cli("credits", env=narrow)):
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.stdout.splitlines()) <= 40, result.stdout
    # the columns that matter most survive: hash prefix, name and status; date, model, usage
    keys = cli.admin("keys", "list", env=narrow).stdout
    assert keys.split()[:3] == ["hash", "name", "status"]
    assert cli("activity", env=narrow).stdout.split()[:3] == ["date", "model", "usage"]
