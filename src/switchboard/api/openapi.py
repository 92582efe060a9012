"""The OpenAPI 3.1 description of every endpoint the gateway serves.

Served at `GET /api/v1/openapi.json`; `make test` fuzzes the running server against it
(tests/hostile/test_fuzz.py). Adding an endpoint means adding one `Op(...)` to
`OPERATIONS` below (and a request schema when it takes a body); the chat request
schema is generated from the same declared model the door validates with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from switchboard.api.chat_schema import CHAT_BODY
from switchboard.web import Request, Response

V1 = "/api/v1"
JSON = "application/json"


def _obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return _obj(("data",), data=schema)


_STR, _NUM, _INT, _BOOL = ({"type": "string"}, {"type": "number"}, {"type": "integer"},
                           {"type": "boolean"})
_NULLABLE_NUM = {"type": ["number", "null"]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj(("error",), error=_obj(
        ("code", "message"), code=_INT, message=_STR, metadata={"type": "object"})),
    "Usage": _obj(("prompt_tokens", "completion_tokens", "total_tokens"),
                  prompt_tokens=_INT, completion_tokens=_INT, total_tokens=_INT, cost=_NUM),
    "ChatCompletion": _obj(
        ("id", "object", "created", "model", "choices"),
        id=_STR, object=_STR, created=_INT, model=_STR, provider=_STR,
        system_fingerprint={"type": ["string", "null"]},
        choices={"type": "array", "items": _obj(("index", "finish_reason"), index=_INT,
                                                finish_reason={"type": ["string", "null"]})},
        usage=_ref("Usage")),
    "TextCompletionRequest": {
        "type": "object", "required": ["prompt"], "additionalProperties": True,
        "properties": {"model": _STR, "prompt": {"anyOf": [
            _STR, {"type": "array", "items": _STR, "maxItems": 64}]},
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            "stream": _BOOL, "temperature": {"type": "number", "minimum": 0, "maximum": 2}}},
    "ResponsesRequest": {"type": "object", "additionalProperties": True, "properties": {
        "model": _STR, "input": {"anyOf": [_STR, {"type": "array"}]}, "stream": _BOOL,
        "instructions": {"type": ["string", "null"]}}},
    "Model": _obj(("id", "name", "context_length", "pricing", "architecture",
                   "supported_parameters"),
                  id=_STR, name=_STR, context_length=_INT, pricing={"type": "object"},
                  architecture={"type": "object"},
                  supported_parameters={"type": "array", "items": _STR}),
    "Key": _obj(("hash", "name", "disabled", "usage"), hash=_STR, name=_STR, label=_STR,
                disabled=_BOOL, limit=_NULLABLE_NUM, limit_remaining=_NULLABLE_NUM, usage=_NUM),
    "KeyCreate": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 256},
        "limit": {"type": ["number", "null"], "minimum": 0, "maximum": 1_000_000},
        "limit_reset": {"enum": ["daily", "weekly", "monthly", None]},
        "provisioning": _BOOL, "account_id": _STR}},
    "KeyUpdate": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 256}, "disabled": _BOOL,
        "limit": {"type": ["number", "null"], "minimum": 0, "maximum": 1_000_000},
        "limit_reset": {"enum": ["daily", "weekly", "monthly", None]},
        "include_byok_in_limit": _BOOL}},
    "Credits": _data(_obj(("total_credits", "total_usage"),
                          total_credits=_NUM, total_usage=_NUM)),
    "Charge": {"type": "object", "required": ["amount"], "properties": {
        "amount": {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000},
        "account_id": _STR}},
    "Account": _obj(("id", "name", "total_credits", "total_usage"), id=_STR, name=_STR,
                    total_credits=_NUM, total_usage=_NUM, created_at=_STR),
    "AccountCreate": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 256},
        "data_collection": {"enum": ["allow", "deny"]}}},
}


@dataclass(frozen=True, slots=True)
class Op:
    method: str
    path: str  # under /api/v1 unless it starts with "/" at the root ("root": True)
    summary: str
    auth: bool = True
    request: str | None = None  # a SCHEMAS name for the JSON body
    ok: int = 200
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    stream: bool = False  # may answer text/event-stream
    examples: tuple[dict[str, Any], ...] = ()  # request bodies that work
    root: bool = False  # served at the root path, not under /api/v1


_LIMIT = {"type": "integer", "minimum": 0}
_CHAT_EXAMPLES: tuple[dict[str, Any], ...] = (
    {"model": "switchboard/echo", "messages": [{"role": "user", "content": "Hello"}]},
    {"model": "switchboard/lorem", "stream": True, "max_tokens": 50,
     "messages": [{"role": "user", "content": "Write"}]},
    {"model": "switchboard/echo", "messages": [{"role": "user", "content": "Weather?"}],
     "tools": [{"type": "function", "function": {
         "name": "weather", "parameters": {"type": "object", "properties": {
             "city": {"type": "string"}}}}}]},
)
OPERATIONS: tuple[Op, ...] = (
    Op("GET", "/health", "Liveness: 200 once the server accepts traffic", auth=False, root=True,
       response=_obj(("status",), status=_STR)),
    Op("GET", "/ready", "Readiness: 200 when serving, 503 with the reason otherwise",
       auth=False, root=True),
    Op("GET", "/openapi.json", "This document", auth=False),
    Op("POST", "/chat/completions", "OpenAI chat completions plus OpenRouter's routing fields",
       request="ChatRequest", response=_ref("ChatCompletion"), stream=True,
       examples=_CHAT_EXAMPLES),
    Op("POST", "/completions", "Legacy text completions", request="TextCompletionRequest",
       stream=True, examples=({"model": "switchboard/echo", "prompt": "Once upon"},)),
    Op("GET", "/models", "The catalog in OpenRouter's shape", auth=False,
       response=_obj(("data",), data={"type": "array", "items": _ref("Model")})),
    Op("GET", "/models/{author}/{slug}/endpoints", "Every provider endpoint of one model",
       auth=False, response=_data({"type": "object"})),
    Op("GET", "/models/count", "How many models the catalog lists", auth=False,
       response=_data(_obj(("count",), count=_INT))),
    Op("GET", "/models/user", "The models the caller may use under its data policy",
       response=_obj(("data",), data={"type": "array", "items": _ref("Model")})),
    Op("GET", "/model/{author}/{slug}", "One model", auth=False, response=_data(_ref("Model"))),
    Op("POST", "/responses", "OpenAI Responses API (stateless), routed and billed like chat",
       request="ResponsesRequest", stream=True,
       examples=({"model": "switchboard/echo", "input": "Hello"},)),
    Op("GET", "/providers", "Configured providers and their data policy", auth=False,
       response=_data({"type": "array"})),
    Op("GET", "/auth/key", "The calling key", response=_data({"type": "object"})),
    Op("GET", "/key", "The calling key (alias of /auth/key)", response=_data({"type": "object"})),
    Op("GET", "/keys", "API keys of the caller's account",
       query=(("offset", _LIMIT), ("include_disabled", {"enum": ["true", "false"]})),
       response=_data({"type": "array", "items": _ref("Key")})),
    Op("POST", "/keys", "Create an API key", request="KeyCreate", ok=201,
       response=_obj(("key", "data"), key=_STR, data=_ref("Key"))),
    Op("GET", "/keys/{hash}", "One API key", response=_data(_ref("Key"))),
    Op("PATCH", "/keys/{hash}", "Change an API key", request="KeyUpdate",
       response=_data(_ref("Key"))),
    Op("DELETE", "/keys/{hash}", "Delete an API key", response=_obj(("deleted",), deleted=_BOOL)),
    Op("GET", "/credits", "Credits and usage of the key's account", response=_ref("Credits")),
    Op("POST", "/credits/charge", "Add credits (root key)", request="Charge",
       response=_data({"type": "object"})),
    Op("GET", "/accounts", "Accounts (root key)",
       response=_data({"type": "array", "items": _ref("Account")})),
    Op("POST", "/accounts", "Create an account (root key)", request="AccountCreate", ok=201,
       response=_data(_ref("Account"))),
    Op("GET", "/activity", "Per day, model and provider: requests, tokens, usage",
       query=(("date", {"type": "string", "format": "date"}),),
       response=_data({"type": "array"})),
    Op("GET", "/generation", "One generation's stats", query=(("id", _STR),),
       response=_data({"type": "object"})),
)


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in names]


def _operation(op: Op) -> dict[str, Any]:
    ok_content: dict[str, Any] = {JSON: {"schema": op.response}}
    if op.stream:
        # schemathesis checks each server-sent event against this
        ok_content["text/event-stream"] = {"schema": _obj(("data",), data=_STR)}
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method.lower() + "".join(
            ch if ch.isalnum() else "_" for ch in op.path if ch not in "{}"),
        "responses": {
            str(op.ok): {"description": "success", "content": ok_content},
            "default": {"description": "an error in SPEC §3's shape",
                        "content": {JSON: {"schema": _ref("Error")}}},
        },
    }
    params = _path_params(op.path) + [
        {"name": n, "in": "query", "required": False, "schema": s} for n, s in op.query]
    if params:
        out["parameters"] = params
    if op.request:
        media: dict[str, Any] = {"schema": _ref(op.request)}
        if op.examples:
            media["examples"] = {f"example{i}": {"value": v} for i, v in enumerate(op.examples)}
        out["requestBody"] = {"required": True, "content": {JSON: media}}
    if not op.auth:
        out["security"] = []
    return out


def _chat_request_schemas() -> dict[str, dict[str, Any]]:
    schema = CHAT_BODY.json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    # the door's unions are exclusive in practice, but a text part also matches the catch-all
    # part: anyOf states what the server accepts
    return _any_of({**defs, "ChatRequest": schema})


def _any_of(node: Any) -> Any:
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in node.items()
                if k != "discriminator"}
    if isinstance(node, list):
        return [_any_of(v) for v in node]
    return node


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path = op.path if op.root else V1 + op.path
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard", "version": "1",
                 "description": "A self-hosted LLM gateway that speaks OpenRouter's API."},
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **_chat_request_schemas()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


class OpenAPIHandler:
    """GET /api/v1/openapi.json: built once, on first use."""

    def __init__(self) -> None:
        self._body: bytes | None = None

    async def get(self, req: Request) -> Response:
        if self._body is None:
            self._body = orjson.dumps(document())
        return Response(200, self._body)
