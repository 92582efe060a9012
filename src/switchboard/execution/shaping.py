"""Shapes upstream answers into what OpenRouter clients expect: ids, model, provider, usage+cost."""

from __future__ import annotations

from typing import Any

from switchboard.billing.pricing import Cost, usd_float
from switchboard.execution.outcome import Outcome


def usage_body(usage: dict[str, Any] | None, cost: Cost | None) -> dict[str, Any]:
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    pdet = usage.get("prompt_tokens_details") or {}
    cdet = usage.get("completion_tokens_details") or {}
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": usd_float(cost.pico) if cost else 0,
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": int(pdet.get("cached_tokens") or 0),
            "cache_write_tokens": int(pdet.get("cache_write_tokens") or 0),
            "audio_tokens": 0,
        },
        "cost_details": {
            "upstream_inference_cost": usd_float(cost.provider_pico) if cost else 0,
            "upstream_inference_prompt_cost": usd_float(cost.prompt_pico) if cost else 0,
            "upstream_inference_completions_cost": usd_float(cost.completion_pico) if cost else 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": int(cdet.get("reasoning_tokens") or 0),
            "image_tokens": 0,
        },
    }


def shape_completion(
    result: dict[str, Any], outcome: Outcome, model_id: str, provider_name: str
) -> dict[str, Any]:
    result["id"] = outcome.gen_id
    result["object"] = "chat.completion"
    result["created"] = outcome.created
    result["model"] = model_id
    result["provider"] = provider_name
    result.setdefault("system_fingerprint", None)
    for choice in result.get("choices") or ():
        choice.setdefault("logprobs", None)
        choice.setdefault("native_finish_reason", choice.get("finish_reason"))
        msg = choice.get("message") or {}
        msg.setdefault("refusal", None)
        msg.setdefault("reasoning", None)
    result["usage"] = usage_body(outcome.usage, outcome.cost)
    return result


def _as_text(obj: dict[str, Any], part: str) -> dict[str, Any]:
    """A chat completion (part "message") or chunk (part "delta") in the legacy
    `text_completion` shape of POST /completions."""
    choices = [
        {
            "text": (c.get(part) or {}).get("content") or "",
            "index": c.get("index", 0),
            "logprobs": None,
            "finish_reason": c.get("finish_reason"),
            "native_finish_reason": c.get("native_finish_reason"),
        }
        for c in obj.get("choices") or ()
    ]
    out = {k: v for k, v in obj.items() if k != "choices"}
    out["object"] = "text_completion"
    out["choices"] = choices
    return out


def to_text_completion(result: dict[str, Any]) -> dict[str, Any]:
    return _as_text(result, "message")


def chunk_to_text(chunk: dict[str, Any]) -> dict[str, Any]:
    return _as_text(chunk, "delta")
