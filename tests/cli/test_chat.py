"""`switchboard chat` in-process against the real gateway: output, request bodies, stats."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, no_traceback
from tests.support import MockUpstream, Reply, openai_completion, openai_stream


def test_chat_streams_the_answer_to_stdout_and_stats_to_stderr(cli: Cli) -> None:
    r = cli("chat", "switchboard/echo", "hello from the cli")
    assert r.exit_code == 0, r.output
    assert r.stdout == "hello from the cli\n"
    # provider, model, tokens, cost, latency, generation id: one line on stderr
    stats = r.stderr.strip()
    assert len(stats.splitlines()) == 1
    assert "Switchboard Simulator" in stats and "switchboard/echo" in stats
    assert " in, " in stats and " out" in stats and "$0" in stats
    assert "first token" in stats and "gen-" in stats


def test_chat_reads_the_prompt_from_stdin_when_absent_or_dash(cli: Cli) -> None:
    piped = cli("chat", "switchboard/echo", input="from a pipe\n")
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == "from a pipe\n"
    dash = cli("chat", "switchboard/echo", "-", input="dash means stdin")
    assert dash.stdout == "dash means stdin\n"


def test_chat_with_empty_stdin_is_a_usage_error(cli: Cli) -> None:
    r = cli("chat", "switchboard/echo", input="   \n")
    assert r.exit_code == 2
    assert "no prompt" in r.stderr
    no_traceback(r)


def test_no_stream_prints_the_whole_answer(cli: Cli, upstream: MockUpstream) -> None:
    upstream.script("/alpha/", Reply(json=openai_completion("All at once", prompt=12,
                                                            completion=3)))
    r = cli("chat", "test/gpt", "hi", "--no-stream", "--provider-only", "alpha")
    assert r.exit_code == 0, r.output
    assert r.stdout == "All at once\n"
    assert upstream.hits("/alpha/")[0]["body"].get("stream") in (None, False)
    # 12 × 0.15/M + 3 × 0.6/M = 0.0000036, plus the 10 % markup
    assert "Alpha" in r.stderr and "$0.00000396" in r.stderr and "12 in, 3 out" in r.stderr


def test_json_prints_the_raw_response_for_scripts(cli: Cli) -> None:
    r = cli("chat", "switchboard/echo", "as json", "--json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["choices"][0]["message"]["content"] == "as json"
    assert body["id"].startswith("gen-")
    assert body["usage"]["cost"] == 0
    assert r.stderr == ""  # nothing but JSON for a script to parse


def test_options_become_openrouter_request_fields(cli: Cli, upstream: MockUpstream) -> None:
    upstream.script("/beta/", Reply(sse=openai_stream(["ok"])))
    r = cli("chat", "test/gpt", "question", "--system", "be brief", "--temperature", "0.2",
            "--max-tokens", "50", "--provider-order", "beta,alpha",
            "--fallback", "switchboard/echo", "--fallback", "switchboard/lorem",
            "--extra", '{"provider": {"sort": "price"}, "seed": 7}')
    assert r.exit_code == 0, r.output
    assert r.stdout == "ok\n"
    sent = upstream.hits("/beta/")[0]["body"]  # beta first: the order was honoured
    assert sent["messages"] == [{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "question"}]
    assert sent["temperature"] == 0.2
    assert sent["max_tokens"] == 50
    assert sent["seed"] == 7


def test_fallback_models_answer_when_the_first_model_fails(
    cli: Cli, upstream: MockUpstream
) -> None:
    upstream.default = lambda _path, _body: Reply(status=500, json={"error": {"message": "x"}})
    r = cli("chat", "test/gpt", "still answered", "--fallback", "switchboard/echo")
    assert r.exit_code == 0, r.output
    assert r.stdout == "still answered\n"
    assert "switchboard/echo" in r.stderr


def test_reasoning_is_shown_on_stderr_before_the_answer(
    cli: Cli, upstream: MockUpstream
) -> None:
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events: list[object] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning": "Let me "},
                              "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"reasoning": "think."},
                              "finish_reason": None}]},
        *openai_stream(["The answer."])[1:],
    ]
    upstream.script("/alpha/", Reply(sse=events))
    r = cli("chat", "test/gpt", "why?", "--provider-only", "alpha")
    assert r.exit_code == 0, r.output
    assert r.stdout == "The answer.\n"  # a pipe gets the answer alone
    assert r.stderr.startswith("Let me think.\n")


def test_error_event_mid_stream_ends_with_its_exit_code(cli: Cli) -> None:
    r = cli("chat", "switchboard/echo", "one two three four",
            "--extra", '{"simulate": {"error": 503, "after_chunks": 2}}')
    assert r.exit_code == 1
    assert r.stdout == "one two\n"  # what arrived stays, on its own line
    assert "error:" in r.stderr and "503" in r.stderr
    no_traceback(r)


def test_bad_extra_json_is_a_usage_error(cli: Cli) -> None:
    r = cli("chat", "switchboard/echo", "x", "--extra", "{not json")
    assert r.exit_code == 2
    assert "--extra" in r.stderr
