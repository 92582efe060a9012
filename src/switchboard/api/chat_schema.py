"""The declared shape of a chat completion request, checked at the door.

Only the fields the gateway acts on or that would break a request builder are
declared; unknown fields are allowed and travel on to OpenAI-compatible
upstreams unchanged (SPEC §3). Bounds follow OpenAI and OpenRouter's reference
(`metadata`: 16 pairs, 64-character keys, 512-character values; `top_logprobs`
0-20; `session_id` 256 characters) and cap what would otherwise grow without
limit (counts, string sizes, the simulator's knobs). Validation only: the body
dict itself is what flows on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter
from pydantic.json_schema import SkipJsonSchema

MAX_MESSAGES = 50_000
MAX_TOOLS = 512
MAX_PARTS = 1_000
MAX_ID = 256  # model ids, tool names, call ids, session ids
MAX_TOKENS = 2**31 - 1  # max_tokens / max_completion_tokens
MAX_N = 128
SIM_MAX_LATENCY_MS = 60_000
SIM_MAX_CHUNK_DELAY_MS = 10_000

_CONF = ConfigDict(extra="allow", strict=True)
Short = Annotated[str, Field(max_length=MAX_ID)]
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class _Open(BaseModel):
    model_config = _CONF


# -- messages ---------------------------------------------------------------------------


class TextPart(_Open):
    type: Literal["text"]
    text: str


class ImageUrl(_Open):
    url: Annotated[str, Field(min_length=1)]
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Open):
    type: Literal["image_url"]
    image_url: ImageUrl | Annotated[str, Field(min_length=1)]


class OtherPart(_Open):
    type: Annotated[str, Field(max_length=64)]


def _part_tag(v: Any) -> str | None:
    if not isinstance(v, dict):
        return None
    kind = v.get("type")
    return ("part:" + kind) if kind in ("text", "image_url") else "part:other"


Part = Annotated[
    Annotated[TextPart, Tag("part:text")]
    | Annotated[ImagePart, Tag("part:image_url")]
    | Annotated[OtherPart, Tag("part:other")],
    Discriminator(_part_tag, custom_error_type="part_type",
                  custom_error_message="each content part must be an object with a 'type'"),
]
Content = str | Annotated[list[Part], Field(max_length=MAX_PARTS)] | None


class CalledFunction(_Open):
    name: Short
    arguments: str | dict[str, Any] = ""


class ToolCall(_Open):
    id: Short | None = None
    type: Literal["function"] = "function"
    function: CalledFunction


class SystemMessage(_Open):
    role: Literal["system", "developer"]
    content: Content = None
    name: Short | None = None


class UserMessage(_Open):
    role: Literal["user"]
    content: Content = None
    name: Short | None = None


class AssistantMessage(_Open):
    role: Literal["assistant"]
    content: Content = None
    name: Short | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOLS)] | None = None
    reasoning: str | None = None


class ToolMessage(_Open):
    role: Literal["tool"]
    content: Content = None
    tool_call_id: Short


class FunctionMessage(_Open):
    role: Literal["function"]
    content: Content = None
    name: Short | None = None


# the role picks the message model in pydantic's core (no Python call per message)
Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage,
    Field(discriminator="role"),
]


# -- tools and formats ------------------------------------------------------------------


class FunctionDef(_Open):
    name: Id
    description: str | None = None
    parameters: dict[str, Any] | None = None  # a JSON schema: always an object
    strict: bool | None = None


class FunctionTool(_Open):
    type: Literal["function"] = "function"
    function: FunctionDef


class ServerTool(_Open):  # provider-side tools (web search, …): the provider checks them
    type: Annotated[str, Field(max_length=128)]


def _tool_tag(v: Any) -> str | None:
    if not isinstance(v, dict):
        return None
    return "tool:function" if v.get("type", "function") == "function" else "tool:server"


Tool = Annotated[
    Annotated[FunctionTool, Tag("tool:function")] | Annotated[ServerTool, Tag("tool:server")],
    Discriminator(_tool_tag, custom_error_type="tool", custom_error_message="must be an object"),
]


class JsonSchemaSpec(_Open):
    name: Short | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema", "grammar", "python"]
    json_schema: JsonSchemaSpec | None = None


class StreamOptions(_Open):
    include_usage: bool | None = None


class Plugin(_Open):
    id: Annotated[str, Field(max_length=64)]
    max_results: Annotated[int, Field(ge=1, le=20)] | None = None


class Simulate(_Open):
    """The simulator's knobs (SPEC §4), bounded so that one request cannot tie up the server."""

    latency_ms: Annotated[float, Field(ge=0, le=SIM_MAX_LATENCY_MS, allow_inf_nan=False)] = 0
    chunk_delay_ms: Annotated[
        float, Field(ge=0, le=SIM_MAX_CHUNK_DELAY_MS, allow_inf_nan=False)] = 0
    error: Annotated[int, Field(ge=400, le=599)] | None = None
    after_chunks: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


Unit = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None
Two = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] | None
Penalty = Annotated[float, Field(ge=-2, le=2, allow_inf_nan=False)] | None


class ChatBody(_Open):
    model: Id | None = None
    models: Annotated[list[Id], Field(max_length=64)] | None = None
    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    route: Literal["fallback", "sort", "auto"] | None = None
    provider: dict[str, Any] | None = None
    transforms: Annotated[list[Annotated[str, Field(max_length=64)]],
                          Field(max_length=16)] | None = None
    plugins: Annotated[list[Plugin], Field(max_length=16)] | None = None
    # the simulator's test knobs (SPEC §4): checked here, left out of the published schema
    simulate: SkipJsonSchema[Simulate | None] = None

    temperature: Two = None
    top_p: Unit = None
    frequency_penalty: Penalty = None
    presence_penalty: Penalty = None
    repetition_penalty: Two = None
    min_p: Unit = None
    top_a: Unit = None
    top_k: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS)] | None = None
    n: Annotated[int, Field(ge=1, le=MAX_N)] | None = None
    seed: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    logit_bias: Annotated[dict[str, Annotated[float, Field(ge=-100, le=100)]],
                          Field(max_length=1024)] | None = None
    stop: Annotated[str, Field(max_length=4096)] | Annotated[
        list[Annotated[str, Field(max_length=4096)]], Field(max_length=16)] | None = None
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    metadata: Annotated[dict[Annotated[str, Field(max_length=64)],
                             Annotated[str, Field(max_length=512)]],
                        Field(max_length=16)] | None = None
    user: Annotated[str, Field(max_length=1024)] | None = None
    session_id: Annotated[str, Field(max_length=256)] | None = None
    reasoning: dict[str, Any] | None = None
    reasoning_effort: Annotated[str, Field(max_length=32)] | None = None
    include_reasoning: bool | None = None
    usage: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    verbosity: Annotated[str, Field(max_length=32)] | None = None


CHAT_BODY: TypeAdapter[ChatBody] = TypeAdapter(ChatBody)
