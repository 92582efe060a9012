"""Each search engine's request and answer shapes."""

from __future__ import annotations

import orjson
import pytest

from switchboard.plugins.web_search import ENGINES, SearchResult, citations, with_results

ANSWERS = {
    "exa": {"results": [{"title": "T", "url": "https://a.example/x", "text": "body"}]},
    "tavily": {"results": [{"title": "T", "url": "https://a.example/x", "content": "body"}]},
    "brave": {"web": {"results": [{"title": "T", "url": "https://a.example/x",
                                   "description": "body"}]}},
    "searxng": {"results": [{"title": "T", "url": "https://a.example/x", "content": "body"}]},
}


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_engine_request_and_results(name: str) -> None:
    engine = ENGINES[name]
    method, url, _headers, body = engine.request("https://search.test", "paris weather", "k", 3)
    assert url.startswith("https://search.test/")
    if method == "POST":
        assert "paris weather" in orjson.loads(body).values()
    else:
        assert "q=paris+weather" in url and body == b""
    assert engine.results(ANSWERS[name]) == [SearchResult("T", "https://a.example/x", "body")]
    assert engine.results({}) == []  # an empty or odd answer is no results, not a crash


def test_results_go_before_the_last_turn_and_become_citations() -> None:
    results = [SearchResult("T", "https://a.example/x", "body")]
    body = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]}
    out = with_results(body, results)
    assert out["messages"][-1] == {"role": "user", "content": "q"}
    assert "https://a.example/x" in out["messages"][-2]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "q"}
    assert citations(results)[0]["url_citation"]["url"] == "https://a.example/x"


async def test_a_search_that_never_finishes_gives_up_at_its_deadline() -> None:
    """Regression: only the connect had a timeout, so a stalled engine hung the request."""
    import asyncio
    import time

    from switchboard.config import WebSearchConf
    from switchboard.execution.http1 import HTTP1Client
    from switchboard.plugins.web_search import WebSearch

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{")  # then nothing
        await writer.drain()
        await reader.read()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HTTP1Client()
    web = WebSearch(WebSearchConf(engine="searxng", base_url=f"http://127.0.0.1:{port}"), client)
    web.deadline_s = 0.3
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await web.search("anything")
    assert time.monotonic() - t0 < 2
    await client.close()
    server.close()
