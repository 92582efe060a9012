"""Run the `switchboard` client commands against the real gateway from tests/conftest.py.

`cli(...)` runs in-process through typer's CliRunner (fast, separate stdout/stderr);
`cli.spawn(...)` starts the installed console script, for what only a real process shows:
incremental output on a pipe, signals, a pseudo-terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from tests.support import GatewayServer
from typer.testing import CliRunner, Result

from switchboard.cli.client_commands import register

SCRIPT = str(Path(sys.executable).with_name("switchboard"))
DEFAULT = object()  # "the fixture's inference key", distinct from None (no key at all)

# variables that would leak a developer's real setup into the tests
_SCRUB = ("SWITCHBOARD_BASE_URL", "SWITCHBOARD_API_KEY", "SWITCHBOARD_ADMIN_KEY",
          "OPENROUTER_API_KEY", "FORCE_COLOR", "NO_COLOR", "COLUMNS", "TTY_COMPATIBLE")


def build_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    return app


@dataclass
class Cli:
    gateway: GatewayServer
    key: str
    app: typer.Typer
    runner: CliRunner

    def env(self, key: Any = DEFAULT, **extra: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = dict.fromkeys(_SCRUB)
        env["SWITCHBOARD_BASE_URL"] = self.gateway.base_url
        env["SWITCHBOARD_API_KEY"] = self.key if key is DEFAULT else key
        env.update(extra)
        return env

    def __call__(self, *args: str, key: Any = DEFAULT, input: str | None = None,
                 env: Mapping[str, str | None] | None = None) -> Result:
        result = self.runner.invoke(self.app, list(args), input=input,
                                    env={**self.env(key), **(env or {})})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback is always a bug here
        return result

    def admin(self, *args: str, **kw: Any) -> Result:
        return self(*args, key=self.gateway.admin_key, **kw)

    def process_env(self, key: Any = DEFAULT, **extra: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        env.update({k: v for k, v in self.env(key, **extra).items() if v is not None})
        return env

    def spawn(self, *args: str, key: Any = DEFAULT, env: dict[str, str] | None = None,
              **popen: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen([SCRIPT, *args], env={**self.process_env(key), **(env or {})},
                                **popen)


@pytest.fixture()
def cli(gateway: GatewayServer) -> Iterator[Cli]:
    yield Cli(gateway, gateway.new_key("cli"), build_app(), CliRunner())


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
