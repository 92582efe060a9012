"""The web plugin behind `:online` and `plugins: [{"id": "web"}]`.

One search per request with the last user message as the query; the results go into
the prompt as a system message that asks for markdown-link citations, and come back
to the client as `url_citation` annotations, as OpenRouter returns them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

import orjson

from switchboard.config import WebSearchConf
from switchboard.execution.http1 import HTTP1Client

DEFAULT_RESULTS = 5
DEADLINE_S = 15.0  # the whole search; past it the answer goes on without results


@dataclass(frozen=True, slots=True)
class SearchResult:
    title: str
    url: str
    snippet: str


@dataclass(frozen=True, slots=True)
class _Engine:
    default_url: str
    request: Callable[[str, str, str | None, int], tuple[str, str, dict[str, str], bytes]]
    results: Callable[[Any], list[SearchResult]]


def _exa_request(base: str, q: str, key: str | None, n: int) -> tuple[str, str, dict[str, str],
                                                                        bytes]:
    body = {"query": q, "numResults": n, "contents": {"text": {"maxCharacters": 1000}}}
    headers = {"content-type": "application/json", "x-api-key": key or ""}
    return "POST", f"{base}/search", headers, orjson.dumps(body)


def _tavily_request(base: str, q: str, key: str | None, n: int) -> tuple[str, str,
                                                                           dict[str, str], bytes]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {key or ''}"}
    return "POST", f"{base}/search", headers, orjson.dumps({"query": q, "max_results": n})


def _brave_request(base: str, q: str, key: str | None, n: int) -> tuple[str, str,
                                                                          dict[str, str], bytes]:
    headers = {"accept": "application/json", "x-subscription-token": key or ""}
    return "GET", f"{base}/res/v1/web/search?q={quote_plus(q)}&count={n}", headers, b""


def _searxng_request(base: str, q: str, key: str | None, n: int) -> tuple[str, str,
                                                                            dict[str, str], bytes]:
    headers = {"accept": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return "GET", f"{base}/search?q={quote_plus(q)}&format=json", headers, b""


def _rows(items: Any, title: str, url: str, text: str) -> list[SearchResult]:
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get(url):
            out.append(SearchResult(str(item.get(title) or item[url]), str(item[url]),
                                    str(item.get(text) or "")[:1000]))
    return out


ENGINES: dict[str, _Engine] = {
    "exa": _Engine("https://api.exa.ai", _exa_request,
                   lambda d: _rows(d.get("results"), "title", "url", "text")),
    "tavily": _Engine("https://api.tavily.com", _tavily_request,
                      lambda d: _rows(d.get("results"), "title", "url", "content")),
    "brave": _Engine("https://api.search.brave.com", _brave_request,
                     lambda d: _rows((d.get("web") or {}).get("results"), "title", "url",
                                     "description")),
    "searxng": _Engine("http://127.0.0.1:8888", _searxng_request,
                       lambda d: _rows(d.get("results"), "title", "url", "content")),
}


class WebSearch:
    def __init__(self, conf: WebSearchConf, client: HTTP1Client) -> None:
        self.conf = conf
        self.engine = ENGINES[conf.engine]
        self.client = client
        self.deadline_s = DEADLINE_S

    async def search(self, query: str, max_results: int = DEFAULT_RESULTS) -> list[SearchResult]:
        base = (self.conf.base_url or self.engine.default_url).rstrip("/")
        method, url, headers, body = self.engine.request(base, query, self.conf.api_key,
                                                         max_results)
        async with asyncio.timeout(self.deadline_s):
            resp = await self.client.request(method, url, headers, body, self.deadline_s)
            try:
                data = await resp.read()
            finally:
                resp.release()
        if resp.status != 200:
            raise RuntimeError(f"{self.conf.engine} search answered HTTP {resp.status}")
        return self.engine.results(orjson.loads(data))[:max_results]


def query_of(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content[:400]
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content
                                if isinstance(p, dict) and p.get("type") == "text")[:400]
    return ""


def with_results(body: dict[str, Any], results: list[SearchResult]) -> dict[str, Any]:
    """The request with the search results added as a system message before the last turn."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    lines = [f"A web search was conducted on {today}. Use the following results to answer, "
             "and cite every source you use as a markdown link named after its domain, "
             "e.g. [example.com](https://example.com/page)."]
    for r in results:
        lines.append(f"\n[{r.title}]({r.url})\n{r.snippet}")
    messages = list(body.get("messages") or [])
    messages.insert(max(0, len(messages) - 1), {"role": "system", "content": "\n".join(lines)})
    out = dict(body)
    out["messages"] = messages
    return out


def citations(results: list[SearchResult]) -> list[dict[str, Any]]:
    return [{"type": "url_citation",
             "url_citation": {"url": r.url, "title": r.title or urlsplit(r.url).netloc,
                              "content": r.snippet, "start_index": 0, "end_index": 0}}
            for r in results]
