"""The two router pseudo-models in /models: `openrouter/auto` and `openrouter/free`.

OpenRouter lists its auto router as a model with variable pricing ("-1": priced as whichever
model answers), so clients that validate a model id against /models accept it.
"""

from __future__ import annotations

from typing import Any

from switchboard.catalog.types import Catalog, Model
from switchboard.routing.filters import CAPABILITIES
from switchboard.routing.variants import AUTO_MODEL, FREE_MODEL, is_free_model

_AUTO_DESCRIPTION = (
    "Your prompt is classified (code, maths and reasoning, vision, long context, tool use, "
    "language, plain chat) by a fast local classifier and routed to the best available model "
    "for that kind of task, with fallbacks. The response's `model` field names the model that "
    "answered, and you pay that model's price. Restrict the choice with "
    '`plugins: [{"id": "auto-router", "allowed_models": ["anthropic/*"]}]`.'
)
_FREE_DESCRIPTION = (
    "Routes to a free model that supports the request (tools, images, structured output). "
    "Free models have strict rate limits and their providers may train on the prompts."
)


def _entry(model_id: str, name: str, description: str, models: list[Model],
           price: str, base_url: str) -> dict[str, Any]:
    inputs = sorted({m for model in models for m in model.input_modalities},
                    key=lambda m: (m != "text", m))
    params = sorted({p for model in models for e in model.endpoints
                     for p in e.supported_parameters if p in CAPABILITIES})
    context = max((m.context_length for m in models), default=0)
    return {
        "id": model_id, "canonical_slug": model_id, "hugging_face_id": "", "name": name,
        "created": 1699401600, "description": description, "context_length": context,
        "architecture": {"modality": f"{'+'.join(inputs) or 'text'}->text",
                         "input_modalities": inputs or ["text"],
                         "output_modalities": ["text"], "tokenizer": "Router",
                         "instruct_type": None},
        "pricing": {"prompt": price, "completion": price, "request": price, "image": price},
        "top_provider": {"context_length": None, "max_completion_tokens": None,
                         "is_moderated": False},
        "per_request_limits": None, "supported_parameters": params,
        "default_parameters": {"temperature": None, "top_p": None, "frequency_penalty": None},
        "supported_voices": None,
        "links": {"details": f"{base_url}/models/{model_id}/endpoints"},
    }


def router_entries(catalog: Catalog, base_url: str) -> list[dict[str, Any]]:
    text_models = [m for m in catalog.models.values() if "text" in m.output_modalities
                   and not m.id.startswith("switchboard/")]
    if not text_models:
        return []
    out = [_entry(AUTO_MODEL, "Auto Router", _AUTO_DESCRIPTION, text_models, "-1", base_url)]
    free = [m for m in text_models if is_free_model(m.id)]
    if free:
        out.append(_entry(FREE_MODEL, "Free Models Router", _FREE_DESCRIPTION, free, "0",
                          base_url))
    return out
