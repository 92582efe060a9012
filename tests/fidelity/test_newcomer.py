"""A newcomer's first minutes, followed from the README line by line.

Clone the repository into a temporary directory, `make serve` on a free port, paste the
`export` lines the server printed, run the README's "A first request" block as written
(only the port differs), and stop the server.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("git") is None
    or not (ROOT / ".git").exists(), reason="needs git, make and a git checkout")


def first_request_block(readme: str) -> str:
    """The first ```bash block under the "A first request" heading."""
    section = readme.split("## A first request", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found, "README: no bash block under 'A first request'"
    return found.group(1)


def _clean_env(home: Path) -> dict[str, str]:
    """A fresh shell: no provider keys, no Switchboard settings from the developer's."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
            "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CACHE_DIR", "XDG_CACHE_HOME", "HOME")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.setdefault("HOME", str(home))
    return env


def _reader(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)


def test_readme_first_request_works_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "switchboard"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    env = _clean_env(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        ["make", "serve", f"PORT={port}"], cwd=clone, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(server, lines), daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 900  # the first `make serve` installs the project
        while not any("listening on" in line for line in output):
            assert server.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "".join(output)
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=1))
        exports = [line.strip() for line in output if line.strip().startswith("export ")]
        assert {e.split("=")[0] for e in exports} == {
            "export SWITCHBOARD_ADMIN_KEY", "export SWITCHBOARD_API_KEY",
            "export SWITCHBOARD_BASE_URL"}, "".join(output)
        block = first_request_block((clone / "README.md").read_text("utf-8"))
        script = "\n".join(exports) + "\n" + block.replace("8080", str(port))
        done = subprocess.run(["bash", "-e", "-c", script], cwd=clone, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"content":"Hello!"' in done.stdout.replace(" ", "")  # curl's echo answer
        assert "sk-sb-v1-" in done.stdout  # the new key from `switchboard keys create`
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
