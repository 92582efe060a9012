"""What validation at the door costs per request (issue 15: at most 0.05 ms at c=1).

Times `parse_chat_request` (depth check, the declared pydantic model, the parameter
table) on a typical chat body, a tool-calling body and a 50-message conversation, and
the header decoding of a typical request, in CPU microseconds per call.

    .venv/bin/python bench/door.py [--n 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from switchboard.api.chat_request import parse_chat_request
from switchboard.web import Request

TYPICAL: dict[str, Any] = {
    "model": "openai/gpt-4o-mini", "stream": True, "max_tokens": 256, "temperature": 0.7,
    "messages": [{"role": "system", "content": "You are terse."},
                 {"role": "user", "content": "Name three prime numbers."}],
}
TOOLS: dict[str, Any] = {
    **TYPICAL, "tool_choice": "auto",
    "tools": [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"]}}}],
}
LONG: dict[str, Any] = {
    **TYPICAL,
    "messages": [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " * 20}
                 for i in range(50)],
}
SCOPE = {"method": "POST", "path": "/api/v1/chat/completions", "query_string": b"",
         "headers": [(b"host", b"127.0.0.1:8080"), (b"authorization", b"Bearer sk-sb-v1-x"),
                     (b"content-type", b"application/json"), (b"content-length", b"180"),
                     (b"user-agent", b"OpenAI/Python 1.99"), (b"x-title", "日本".encode())]}


def per_call_us(fn: Callable[[], object], n: int) -> float:
    """CPU microseconds per call (process time, so other load on the machine does not count)."""
    for _ in range(min(n, 2000)):
        fn()
    runs = []
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        runs.append((time.process_time() - t0) / n * 1e6)
    return statistics.median(runs)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    n = ap.parse_args().n
    rows = [
        ("chat body, typical (2 messages)", lambda: parse_chat_request(TYPICAL)),
        ("chat body with one tool", lambda: parse_chat_request(TOOLS)),
        ("chat body, 50 messages", lambda: parse_chat_request(LONG)),
        ("request headers (UTF-8 decode)", lambda: Request(SCOPE, _receive)),
    ]
    print(f"{'what':40} {'µs/call':>8}")
    for name, fn in rows:
        print(f"{name:40} {per_call_us(fn, n):8.1f}")


if __name__ == "__main__":
    main()
