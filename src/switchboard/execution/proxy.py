"""Egress proxies from the environment: HTTP_PROXY, HTTPS_PROXY, NO_PROXY (either case).

`https` origins go through a CONNECT tunnel (the proxy sees only host and port); `http`
origins are sent to the proxy in absolute form. As in Go's net/http, loopback hosts are
never proxied, so a local upstream keeps working behind a corporate proxy.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = None  # the Proxy-Authorization value, from user:pass@ in the URL

    @classmethod
    def parse(cls, url: str) -> Proxy:
        if "://" not in url:
            url = "http://" + url  # "proxy:3128" is common in the wild
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"unsupported proxy URL {url!r} (only http://host:port proxies)")
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        return cls(parts.hostname, parts.port or 80, auth)


@dataclass(frozen=True, slots=True)
class _Rule:
    host: str  # "" with a network: an address range
    port: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


def _rules(no_proxy: str) -> tuple[_Rule, ...]:
    out = []
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            out.append(_Rule("", None, ipaddress.ip_network(entry.strip("[]"), strict=False)))
            continue
        except ValueError:
            pass
        host, port = entry, None
        if entry.startswith("["):  # [::1]:8080
            host, _, rest = entry[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            name, _, p = entry.partition(":")
            if p.isdigit():
                host, port = name, int(p)
        out.append(_Rule(host.lstrip("*").lstrip("."), port))
    return tuple(out)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ProxySettings:
    http: Proxy | None = None
    https: Proxy | None = None
    bypass_all: bool = False
    no_proxy: tuple[_Rule, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProxySettings:
        """Lower-case names win, as curl reads them; ALL_PROXY fills in for either scheme."""

        def var(name: str) -> str:
            return (env.get(name.lower()) or env.get(name.upper()) or "").strip()

        def proxy(name: str) -> Proxy | None:
            url = var(name) or var("all_proxy")
            try:
                return Proxy.parse(url) if url else None
            except ValueError as exc:
                raise ValueError(f"{name.upper()}: {exc}") from None

        no_proxy = var("no_proxy")
        return cls(
            http=proxy("http_proxy"),
            https=proxy("https_proxy"),
            bypass_all=no_proxy == "*",
            no_proxy=_rules(no_proxy) if no_proxy != "*" else (),
        )

    def for_origin(self, scheme: str, host: str, port: int) -> Proxy | None:
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or self.bypass_all or _is_loopback(host):
            return None
        host = host.lower().rstrip(".")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        for rule in self.no_proxy:
            if rule.network is not None:
                if address is not None and address in rule.network:
                    return None
                continue
            if rule.port is not None and rule.port != port:
                continue
            if host == rule.host or host.endswith("." + rule.host):
                return None
        return proxy
