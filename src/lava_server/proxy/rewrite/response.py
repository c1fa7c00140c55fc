"""Whole (not streamed) answers from the provider's shape to the client's
(`docs/forward-proxy.md#rewrite`): an Anthropic message <-> a chat completion. The bill was
already read from the provider's own answer; the translated usage only tells the client.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson

JSON = dict[str, Any]

# Anthropic stop_reason -> OpenAI finish_reason, and back.
FINISH_REASON: Final[dict[str, str]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
STOP_REASON: Final[dict[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def openai_usage(usage: Any) -> JSON:
    """Anthropic usage as OpenAI reports it: prompt tokens include the cached ones."""
    usage = usage if isinstance(usage, dict) else {}
    cache_read = _int(usage.get("cache_read_input_tokens"))
    prompt = (
        _int(usage.get("input_tokens"))
        + cache_read
        + _int(usage.get("cache_creation_input_tokens"))
    )
    completion = _int(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    }


def anthropic_usage(usage: Any) -> JSON:
    """OpenAI usage as Anthropic reports it: input tokens exclude the cached ones."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return {
        "input_tokens": max(_int(usage.get("prompt_tokens")) - cached, 0),
        "output_tokens": _int(usage.get("completion_tokens")),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def anthropic_message_to_openai(message: JSON) -> JSON:
    """An Anthropic message as a chat completion."""
    texts: list[str] = []
    calls: list[JSON] = []
    content = message.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    reply: JSON = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    stop = message.get("stop_reason")
    out: JSON = {
        "id": f"chatcmpl-{message.get('id', '')}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model"),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": FINISH_REASON.get(stop, "stop") if isinstance(stop, str) else None,
                "logprobs": None,
            }
        ],
    }
    if "usage" in message:
        out["usage"] = openai_usage(message["usage"])
    return out


def openai_completion_to_anthropic(completion: JSON) -> JSON:
    """A chat completion (its first choice) as an Anthropic message."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    reply = choice.get("message")
    reply = reply if isinstance(reply, dict) else {}
    blocks: list[JSON] = []
    text = reply.get("content")
    if isinstance(text, str) and text:
        blocks.append({"type": "text", "text": text})
    calls = reply.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _arguments(function.get("arguments")),
            }
        )
    finish = choice.get("finish_reason")
    return {
        "id": f"msg_{completion.get('id', '')}",
        "type": "message",
        "role": "assistant",
        "model": completion.get("model"),
        "content": blocks,
        "stop_reason": STOP_REASON.get(finish, "end_turn") if isinstance(finish, str) else None,
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }


def _arguments(raw: Any) -> JSON:
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
