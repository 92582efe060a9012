"""The installed `switchboard` script as a real process: pipes, signals, a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time

from tests.cli.conftest import SCRIPT, Cli
from tests.support import MockUpstream, Reply, openai_stream

ANSI = re.compile(rb"\x1b\[")


def _read_until(fd: int, needle: bytes, timeout_s: float, seen: bytearray) -> bool:
    """Append what arrives on `fd` to `seen` until it contains `needle`."""
    deadline = time.monotonic() + timeout_s
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # a pty reads EIO once the child has gone
                return needle in seen
            if not data:
                return needle in seen
            seen += data
    return True


def test_first_token_reaches_stdout_long_before_the_answer_ends(cli: Cli) -> None:
    words = "alpha bravo charlie delta echo foxtrot golf"
    proc = cli.spawn("chat", "switchboard/echo", words, "--extra",
                     '{"simulate": {"chunk_delay_ms": 300}}',
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    seen = bytearray()
    assert _read_until(proc.stdout.fileno(), b"alpha", 30, seen), seen
    first_at = time.monotonic()
    assert b"golf" not in seen  # the rest is still being generated upstream
    out, err = proc.communicate(timeout=30)
    ended_at = time.monotonic()
    assert proc.returncode == 0, err
    assert (bytes(seen) + out).decode() == words + "\n"
    # 7 words × 300 ms: the last six arrive ≥ 1.8 s after the first
    assert ended_at - first_at > 1.2


def test_ctrl_c_stops_the_stream_exits_130_and_the_server_cancels_upstream(
    cli: Cli, upstream: MockUpstream
) -> None:
    upstream.script("/alpha/", Reply(sse=openai_stream([f"w{i} " for i in range(40)]),
                                     chunk_delay_s=0.25))
    proc = cli.spawn("chat", "test/gpt", "long answer please", "--provider-only", "alpha",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    seen = bytearray()
    assert _read_until(proc.stdout.fileno(), b"w1 ", 30, seen), seen
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert b"Traceback" not in err and b"Aborted" not in err, err
    assert b"w39" not in bytes(seen) + out
    # the gateway saw the client leave and dropped its own upstream connection
    hit = upstream.hits("/alpha/")[0]
    deadline = time.monotonic() + 10
    while not hit["disconnected"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hit["disconnected"]


def test_piped_output_has_no_colour_codes(cli: Cli) -> None:
    for args in (["models"], ["models", "show", "test/gpt"], ["credits"],
                 ["chat", "switchboard/echo", "plain"]):
        done = subprocess.run([SCRIPT, *args], env=cli.process_env(),
                              capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert not ANSI.search(done.stdout), (args, done.stdout)
        assert not ANSI.search(done.stderr), (args, done.stderr)


def test_tables_have_colour_on_a_terminal(cli: Cli) -> None:
    master, slave = pty.openpty()
    proc = cli.spawn("models", stdin=slave, stdout=slave, stderr=slave, env={"COLUMNS": "100"})
    os.close(slave)
    seen = bytearray()
    _read_until(master, b"switchboard/lorem", 30, seen)
    proc.wait(timeout=30)
    os.close(master)
    assert proc.returncode == 0
    assert ANSI.search(bytes(seen)), seen


def test_interactive_conversation_keeps_history_and_obeys_slash_commands(
    cli: Cli, upstream: MockUpstream
) -> None:
    answers = iter(["First answer.", "Second answer."])
    upstream.default = lambda _p, body: Reply(sse=openai_stream([next(answers)]))
    master, slave = pty.openpty()
    proc = cli.spawn("chat", "test/gpt", stdin=slave, stdout=slave, stderr=slave,
                     env={"COLUMNS": "120"})
    os.close(slave)
    seen = bytearray()
    try:
        assert _read_until(master, b"> ", 30, seen), seen
        os.write(master, b"question one\n")
        assert _read_until(master, b"First answer.", 30, seen), seen
        assert _read_until(master, b"Alpha", 10, seen), seen  # the stats line
        os.write(master, b"/system answer in French\n")
        assert _read_until(master, b"system prompt: answer in French", 10, seen), seen
        os.write(master, b"question two\n")
        assert _read_until(master, b"Second answer.", 30, seen), seen
        os.write(master, b"/model switchboard/echo\n")
        assert _read_until(master, b"model: switchboard/echo", 10, seen), seen
        os.write(master, b"echo me back\n")
        assert _read_until(master, b"echo me back\r\n", 30, seen)
        assert _read_until(master, b"Switchboard Simulator", 30, seen), seen
        os.write(master, b"/exit\n")
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    second = upstream.requests[1]["body"]["messages"]
    assert second == [
        {"role": "system", "content": "answer in French"},
        {"role": "user", "content": "question one"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "question two"},
    ]
    assert b"Traceback" not in seen


def test_interactive_ctrl_c_at_the_prompt_exits_130(cli: Cli) -> None:
    master, slave = pty.openpty()
    proc = cli.spawn("chat", "switchboard/echo", stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = bytearray()
    try:
        assert _read_until(master, b"> ", 30, seen), seen
        # a signal between printing the prompt and blocking on the read is only noticed
        # at the next keystroke (CPython's input()); a person is never that fast
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    _read_until(master, b"never", 0.5, seen)
    os.close(master)
    assert b"Traceback" not in seen


def test_interactive_ctrl_c_during_an_answer_returns_to_the_prompt(cli: Cli) -> None:
    master, slave = pty.openpty()
    proc = cli.spawn("chat", "switchboard/echo", "--extra",
                     '{"simulate": {"chunk_delay_ms": 300}}',
                     stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = bytearray()
    try:
        assert _read_until(master, b"> ", 30, seen), seen
        os.write(master, b"one two three four five six seven eight\n")
        # the answer starts right after the terminal's echo of the typed line
        assert _read_until(master, b"eight\r\none two", 30, seen), seen
        proc.send_signal(signal.SIGINT)
        assert _read_until(master, b"(stopped)", 10, seen), seen
        assert _read_until(master, b"\n> ", 10, seen), seen
        assert seen.count(b"eight") == 1  # the typed line only: the answer was cut short
        os.write(master, b"/exit\n")
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"Traceback" not in seen
