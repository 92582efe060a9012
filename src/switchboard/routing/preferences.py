"""The request's `provider` object, parsed once into a typed, immutable value.

Parsing is strict about names and types (a typo must not silently change routing)
and lenient about `null`, which SDKs send for unset optional fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from switchboard.errors import GatewayError, bad_request

Sort = Literal["price", "throughput", "latency", "exacto"]
Partition = Literal["model", "none"]

_SORTS: tuple[str, ...] = ("price", "throughput", "latency", "exacto")
_PARTITIONS: tuple[str, ...] = ("model", "none")
_PRICE_FIELDS: tuple[str, ...] = ("prompt", "completion", "request", "image", "audio")
_PERCENTILES: tuple[str, ...] = ("p50", "p75", "p90", "p99")


@dataclass(frozen=True, slots=True)
class MaxPrice:
    """Ceilings in USD per million tokens (request: per request, image: per image).

    They compare with the prices `/models` shows, i.e. with the markup applied.
    `audio` is accepted for OpenRouter compatibility; no catalog price uses it yet.
    """

    prompt: Decimal | None = None
    completion: Decimal | None = None
    request: Decimal | None = None
    image: Decimal | None = None
    audio: Decimal | None = None


# A throughput/latency preference: one number (the p50) or per-percentile cutoffs.
PercentileCutoff = float | Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ProviderPreferences:
    order: tuple[str, ...] = ()
    allow_fallbacks: bool = True
    only: tuple[str, ...] = ()  # empty: no restriction, like an absent field
    ignore: tuple[str, ...] = ()
    sort: Sort | None = None
    # "none" sorts the endpoints of all requested models together (OpenRouter's
    # sort.partition, and what the legacy `route: "sort"` means)
    sort_partition: Partition = "model"
    require_parameters: bool = False
    data_collection: Literal["allow", "deny"] = "allow"
    max_price: MaxPrice | None = None
    quantizations: tuple[str, ...] = ()  # lower-cased; empty: no filter
    # Accepted so OpenRouter clients are not refused; routing does not act on them yet.
    zdr: bool | None = None
    enforce_distillable_text: bool | None = None
    preferred_min_throughput: PercentileCutoff | None = None
    preferred_max_latency: PercentileCutoff | None = None
    options: Mapping[str, Any] | None = None  # per-provider options map (OpenRouter SDK ≥ 1.3)
    continue_on_break: bool = True  # ours: continue a stream that breaks half-way


DEFAULT_PREFERENCES = ProviderPreferences()

# Each field's parser returns the dataclass fields it sets (sort sets two).
_FieldParser = Callable[[Any], dict[str, Any]]


def parse_preferences(obj: Any) -> ProviderPreferences:
    """Parse the request body's `provider` value; raises GatewayError(400) naming the field."""
    if obj is None:
        return DEFAULT_PREFERENCES
    if not isinstance(obj, dict):
        raise bad_request("provider must be an object", "provider")
    unknown = sorted(set(obj) - _PARSERS.keys())
    if unknown:
        names = ", ".join(f"'{k}'" for k in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise GatewayError(
            400, f"provider: unknown field{plural} {names}", "bad_request", {"field": "provider"}
        )
    values: dict[str, Any] = {}
    for key, raw in obj.items():
        if raw is not None:
            values.update(_PARSERS[key](raw))
    return ProviderPreferences(**values)


def _slugs(name: str) -> _FieldParser:
    def parse(raw: Any) -> dict[str, Any]:
        if not isinstance(raw, list) or not all(isinstance(s, str) and s for s in raw):
            path = f"provider.{name}"
            raise bad_request(f"{path} must be a list of provider slugs", path)
        return {name: tuple(raw)}

    return parse


def _flag(name: str) -> _FieldParser:
    def parse(raw: Any) -> dict[str, Any]:
        if not isinstance(raw, bool):
            raise bad_request(f"provider.{name} must be true or false", f"provider.{name}")
        return {name: raw}

    return parse


def _sort(raw: Any) -> dict[str, Any]:
    # OpenRouter accepts a bare string or {"by": ..., "partition": "model" | "none"}.
    if isinstance(raw, dict):
        extra = sorted(set(raw) - {"by", "partition"})
        if extra:
            raise bad_request(f"provider.sort: unknown field '{extra[0]}'", "provider.sort")
        partition = raw.get("partition") or "model"
        if partition not in _PARTITIONS:
            raise bad_request(
                "provider.sort.partition must be 'model' or 'none'", "provider.sort.partition"
            )
        by = raw.get("by")
        out: dict[str, Any] = {"sort_partition": partition}
        if by is not None:
            out["sort"] = _sort_value(by, "provider.sort.by")
        return out
    return {"sort": _sort_value(raw, "provider.sort")}


def _sort_value(raw: Any, path: str) -> str:
    if raw not in _SORTS:
        raise bad_request(f"{path} must be one of 'price', 'throughput', 'latency', 'exacto'", path)
    return str(raw)


def _data_collection(raw: Any) -> dict[str, Any]:
    if raw not in ("allow", "deny"):
        raise bad_request(
            "provider.data_collection must be 'allow' or 'deny'", "provider.data_collection"
        )
    return {"data_collection": raw}


def _max_price(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("provider.max_price must be an object", "provider.max_price")
    extra = sorted(set(raw) - set(_PRICE_FIELDS))
    if extra:
        raise bad_request(f"provider.max_price: unknown field '{extra[0]}'", "provider.max_price")
    prices = {k: _price(v, f"provider.max_price.{k}") for k, v in raw.items() if v is not None}
    return {"max_price": MaxPrice(**prices)}


def _price(raw: Any, path: str) -> Decimal:
    # bool is an int subclass; `true` is not a price.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise bad_request(f"{path} must be a number or a numeric string", path)
    try:
        value = Decimal(str(raw).strip())  # str() first: 0.1 must stay 0.1, not its binary float
    except InvalidOperation:
        raise bad_request(f"{path} must be a number or a numeric string", path) from None
    if not value.is_finite() or value < 0:
        raise bad_request(f"{path} must be a non-negative number", path)
    return value


def _quantizations(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, list) or not all(isinstance(q, str) for q in raw):
        raise bad_request(
            "provider.quantizations must be a list of strings", "provider.quantizations"
        )
    return {"quantizations": tuple(q.lower() for q in raw)}


def _cutoff(name: str) -> _FieldParser:
    path = f"provider.{name}"

    def parse(raw: Any) -> dict[str, Any]:
        if _is_number(raw):
            return {name: float(raw)}
        if (
            isinstance(raw, dict)
            and set(raw) <= set(_PERCENTILES)
            and all(v is None or _is_number(v) for v in raw.values())
        ):
            return {name: {k: float(v) for k, v in raw.items() if v is not None}}
        raise bad_request(f"{path} must be a number or an object of p50/p75/p90/p99", path)

    return parse


def _options(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("provider.options must be an object", "provider.options")
    return {"options": raw}


def _is_number(raw: Any) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool)


_PARSERS: dict[str, _FieldParser] = {
    "order": _slugs("order"),
    "only": _slugs("only"),
    "ignore": _slugs("ignore"),
    "allow_fallbacks": _flag("allow_fallbacks"),
    "require_parameters": _flag("require_parameters"),
    "zdr": _flag("zdr"),
    "enforce_distillable_text": _flag("enforce_distillable_text"),
    "sort": _sort,
    "data_collection": _data_collection,
    "max_price": _max_price,
    "quantizations": _quantizations,
    "preferred_min_throughput": _cutoff("preferred_min_throughput"),
    "preferred_max_latency": _cutoff("preferred_max_latency"),
    "options": _options,
    "continue_on_break": _flag("continue_on_break"),
}
