"""Claim the listening socket before saying so: a taken port is one clear line, not a trace."""

from __future__ import annotations

import errno
import socket
import sys


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bind and listen on host:port, or exit with a one-line message saying what to do.

    Listening at once lets a client connect as soon as the banner is out: connections wait
    in the backlog while the server finishes starting."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = (f"port {port} on {host} is already in use (another Switchboard?); stop "
                       f"that process or choose another port: make serve PORT={port + 1}, or "
                       f"switchboard serve --port {port + 1}")
        elif exc.errno == errno.EACCES:
            message = f"no permission to listen on {host}:{port}; use a port above 1023"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        print(f"error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    sock.set_inheritable(True)
    return sock


def check_free(host: str, port: int) -> None:
    """For servers that bind by themselves: fail early and clearly when the port is taken."""
    listen(host, port, backlog=1).close()
