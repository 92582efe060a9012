"""POST /responses through the openai SDK: plain, streamed, tools, structured output, errors;
answers validated against OpenRouter's published schemas; billed exactly like chat."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.dialect_support import (
    PERSON_SCHEMA,
    PROVIDERS,
    Client,
    expected_cost,
    fixed_model,
    only_hit,
    sse_bytes,
    sse_data,
)
from tests.e2e.test_dialects_cross import anthropic_answer, gemini_answer
from tests.e2e.test_openrouter_contract import openapi, schema_for, validate
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream

OPENAI, ANTHROPIC, GEMINI = PROVIDERS["openai"], PROVIDERS["anthropic"], PROVIDERS["gemini"]
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}


def validate_event(event: dict[str, Any]) -> None:
    """One stream event against the published schema its `type` maps to."""
    mapping = openapi()["components"]["schemas"]["StreamEvents"]["discriminator"]["mapping"]
    validate(event, schema_for(mapping[event["type"]].rsplit("/", 1)[-1]))


def _raw(gw: GatewayServer, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gw.base_url}/responses", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})


def _generation(gw: GatewayServer, key: str, gen_id: str) -> dict[str, Any]:
    r = httpx.get(f"{gw.base_url}/generation", params={"id": gen_id},
                  headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def test_plain_text_to_openai(gw_client: Client, upstream: MockUpstream,
                              dialect_gw: GatewayServer, dialect_key: str) -> None:
    upstream.script(OPENAI.prefix, Reply(json=openai_completion("Hi there", 12, 3)))
    resp = gw_client.sdk.responses.create(model=fixed_model("openai"), input="Say hi",
                                          instructions="Be brief.", max_output_tokens=40)
    assert resp.output_text == "Hi there"
    assert resp.status == "completed" and resp.id.startswith("gen-")
    assert resp.model == fixed_model("openai")
    body = json.loads(gw_client.raw)
    validate(body, schema_for("OpenResponsesResult"))
    cost = expected_cost({"prompt_tokens": 12, "completion_tokens": 3})
    assert body["usage"]["input_tokens"] == 12 and body["usage"]["output_tokens"] == 3
    assert body["usage"]["cost"] == pytest.approx(cost, abs=1e-15)
    _, _, sent = only_hit(upstream, OPENAI.prefix)
    assert sent["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Say hi"}]
    assert sent["max_tokens"] == 40
    # billed and recorded like chat, to the last digit
    gen = _generation(dialect_gw, dialect_key, resp.id)
    assert gen["total_cost"] == body["usage"]["cost"]
    assert gen["tokens_prompt"] == 12 and gen["tokens_completion"] == 3


def test_streamed_text_events_in_order(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(sse=openai_stream(["Hel", "lo"], 7, 2)))
    events = list(gw_client.sdk.responses.create(model=fixed_model("openai"), input="hi",
                                                 stream=True))
    kinds = [e.type for e in events]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", "response.output_text.delta",
                     "response.output_text.delta", "response.output_text.done",
                     "response.content_part.done", "response.output_item.done",
                     "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert final.output_text == "Hello" and final.usage is not None
    assert final.usage.input_tokens == 7 and final.usage.output_tokens == 2
    assert gw_client.raw.endswith(b"data: [DONE]\n\n")
    for data in sse_data(gw_client.raw)[:-1]:
        validate_event(json.loads(data))


def test_stream_helper_builds_the_final_response(gw_client: Client,
                                                 upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(sse=openai_stream(["a", "b", "c"])))
    with gw_client.sdk.responses.stream(model=fixed_model("openai"), input="x") as s:
        text = "".join(e.delta for e in s if e.type == "response.output_text.delta")
        final = s.get_final_response()
    assert text == "abc" and final.output_text == "abc"


def test_tool_call_and_its_output_on_anthropic(gw_client: Client,
                                               upstream: MockUpstream) -> None:
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_answer(
        [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
          "input": {"city": "Paris"}}], "tool_use")))
    resp = gw_client.sdk.responses.create(model=fixed_model("anthropic"),
                                          input="Weather in Paris?", tools=[WEATHER])
    (call,) = [o for o in resp.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id == "toolu_1"
    upstream.reset()
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_answer(
        [{"type": "text", "text": "Sunny."}], "end_turn")))
    resp2 = gw_client.sdk.responses.create(model=fixed_model("anthropic"), tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name,
         "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "22C, sunny"},
    ])
    assert resp2.output_text == "Sunny."
    _, _, sent = only_hit(upstream, ANTHROPIC.prefix)
    assert sent["messages"][1]["content"][0]["type"] == "tool_use"
    assert sent["messages"][2]["content"][0] == {
        "type": "tool_result", "tool_use_id": "toolu_1", "content": "22C, sunny"} or (
        sent["messages"][2]["content"][0]["tool_use_id"] == "toolu_1")
    assert sent["tools"][0]["name"] == "get_weather"


def test_streamed_tool_call_on_gemini(gw_client: Client, upstream: MockUpstream) -> None:
    frames = [gemini_answer([{"functionCall": {"name": "get_weather",
                                               "args": {"city": "Oslo"}}}])]
    upstream.script(GEMINI.prefix, Reply(sse=[sse_bytes(frames)]))
    events = list(gw_client.sdk.responses.create(model=fixed_model("gemini"), input="Oslo?",
                                                 tools=[WEATHER], stream=True))
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"city": "Oslo"} and done.name == "get_weather"
    final = events[-1].response
    assert final.output[0].type == "function_call"


def test_structured_output_and_reasoning(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(json=openai_completion(
        '{"name": "Ada", "age": 36}', message={"reasoning": "Think."})))
    resp = gw_client.sdk.responses.create(
        model=fixed_model("openai"), input="Who?", reasoning={"effort": "low"},
        text={"format": {"type": "json_schema", "name": "person", "schema": PERSON_SCHEMA,
                         "strict": True}})
    assert json.loads(resp.output_text) == {"name": "Ada", "age": 36}
    assert resp.output[0].type == "reasoning"
    _, _, sent = only_hit(upstream, OPENAI.prefix)
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "person", "schema": PERSON_SCHEMA, "strict": True}}
    assert sent["reasoning_effort"] == "low"


@pytest.mark.parametrize(("extra", "field"), [
    ({"previous_response_id": "resp_1"}, "previous_response_id"),
    ({"store": True}, "store"),
    ({"input": 5}, "input"),
    ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0]"),
])
def test_stateful_or_bad_requests_are_clear_400s(dialect_gw: GatewayServer, dialect_key: str,
                                                 extra: dict[str, Any], field: str) -> None:
    body = {"model": fixed_model("openai"), "input": "hi", **extra}
    r = _raw(dialect_gw, dialect_key, body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["metadata"]["field"] == field


def test_upstream_failure_is_an_sdk_error(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(status=400, json={"error": {"message": "bad thing"}}))
    with pytest.raises(openai.BadRequestError):
        gw_client.sdk.responses.create(model=fixed_model("openai"), input="x")
    with pytest.raises(openai.NotFoundError):
        gw_client.sdk.responses.create(model="nobody/nothing", input="x")


def test_openai_sdk_unknown_key(dialect_gw: GatewayServer) -> None:
    r = _raw(dialect_gw, "sk-nope", {"model": fixed_model("openai"), "input": "x"})
    assert r.status_code == 401


def test_the_requests_used_here_are_valid_published_requests() -> None:
    for body in (
        {"model": "m", "input": "hi", "instructions": "x", "max_output_tokens": 40},
        {"model": "m", "input": [
            {"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "sunny"}],
         "tools": [WEATHER], "stream": True},
        {"model": "m", "input": "x", "reasoning": {"effort": "low"}, "text": {"format": {
            "type": "json_schema", "name": "person", "schema": PERSON_SCHEMA, "strict": True}}},
    ):
        validate(body, schema_for("ResponsesRequest"))


def test_openrouter_only_fields_never_reach_an_openai_upstream(
        gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(json=openai_completion("ok")))
    gw_client.sdk.chat.completions.create(
        model=fixed_model("openai"), messages=[{"role": "user", "content": "x"}],
        extra_body={"debug": {"echo_upstream_body": False}, "session_id": "s-1",
                    "trace": {"trace_id": "t"}, "cache_control": {"type": "ephemeral"}})
    _, _, sent = only_hit(upstream, OPENAI.prefix)
    assert not {"debug", "session_id", "trace", "cache_control"} & set(sent)


def test_a_stream_cut_after_content_ends_with_response_failed(
        gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(sse=openai_stream(["Hel", "lo", "!"]), cut_after=3))
    events = list(gw_client.sdk.responses.create(model=fixed_model("openai"), input="hi",
                                                 stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds
    assert kinds[-2:] == ["error", "response.failed"]
    assert events[-1].response.status == "failed"
    assert b"[DONE]" not in gw_client.raw
    for data in sse_data(gw_client.raw):
        validate_event(json.loads(data))


def test_signed_thinking_goes_back_to_anthropic_through_encrypted_content(
        gw_client: Client, upstream: MockUpstream) -> None:
    thought = {"type": "thinking", "thinking": "Check Paris.", "signature": "sig-r1"}
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_answer(
        [thought, {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                   "input": {"city": "Paris"}}], "tool_use")))
    first = gw_client.sdk.responses.create(model=fixed_model("anthropic"), tools=[WEATHER],
                                           input="Weather in Paris?",
                                           reasoning={"max_tokens": 1024})  # type: ignore[typeddict-unknown-key]
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    upstream.reset()
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_answer(
        [{"type": "text", "text": "Sunny."}], "end_turn")))
    gw_client.sdk.responses.create(model=fixed_model("anthropic"), tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"},
        reasoning.model_dump(exclude_none=True), call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": "toolu_2", "output": "22C"}])
    _, _, sent = only_hit(upstream, ANTHROPIC.prefix)
    assert sent["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Check Paris.",
                                                 "signature": "sig-r1"}
