"""Request bodies from one shape to the other (`docs/forward-proxy.md#rewrite`): OpenAI chat
completions <-> Anthropic messages. Pure functions on parsed JSON; anything that cannot be
translated is a 400 naming its field, before anything is held or sent.

What is carried over: the system prompt (OpenAI `system`/`developer` messages <-> Anthropic
`system`), user and assistant turns, text and image content parts, tool definitions, tool calls and
tool results, `tool_choice`, `max_tokens` (Anthropic needs one: `DEFAULT_MAX_TOKENS` when the
OpenAI client sent none), `temperature`, `top_p`, stop sequences, `stream`, and the end user
(`user` <-> `metadata.user_id`). Fields of one API with no counterpart in the other (`n` > 1 is
refused; `logprobs`, `seed`, `response_format`, penalties, `top_k`, thinking...) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from lava_server.errors import InvalidRequest
from lava_server.proxy.usage import STREAM_OPTIONS_UNSUPPORTED

JSON = dict[str, Any]

DEFAULT_MAX_TOKENS: Final = 4096
"""`max_tokens` sent to Anthropic when the OpenAI-shaped request has none (Anthropic requires
it; it is also what the forward proxy holds for the answer)."""

_DATA_URL_PREFIX: Final = "data:"


@dataclass(frozen=True, slots=True)
class Translated:
    """The body to send to the provider, and what the answer's translation must know."""

    body: JSON
    stream: bool
    include_usage: bool  # the OpenAI-shaped client asked for the usage chunk of a stream


def _bad(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _object(value: Any, param: str) -> JSON:
    if not isinstance(value, dict):
        raise _bad(param, f"{param} must be a JSON object.")
    return value


def _list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(param, f"{param} must be an array.")
    return value


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _bad(param, f"{param} must be a string.")
    return value


def _common(body: JSON, out: JSON) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model", "model is required: the provider's model name.")
    out["model"] = model
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(name, f"{name} must be a number.")
            out[name] = value


def _stream_flag(body: JSON) -> bool:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "stream must be true or false.")
    return stream is True


def _max_tokens(body: JSON, *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _bad(name, f"{name} must be a positive integer.")
        return value
    return None


# ------------------------------------------------------------------ OpenAI client -> Anthropic API


def openai_to_anthropic(body: JSON) -> Translated:
    """A chat completions request as an Anthropic messages request."""
    out: JSON = {}
    _common(body, out)
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("n", "n must be 1: Anthropic answers with one choice.")
    system: list[JSON] = []
    messages: list[JSON] = []
    for i, raw in enumerate(_list(body.get("messages"), "messages")):
        param = f"messages[{i}]"
        message = _object(raw, param)
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_openai_text_blocks(message.get("content"), f"{param}.content"))
        elif role == "user":
            _append(messages, "user", _openai_user_blocks(message.get("content"), param))
        elif role == "assistant":
            blocks = _openai_assistant_blocks(message, param)
            if blocks:
                _append(messages, "assistant", blocks)
        elif role == "tool":
            call_id = _text(message.get("tool_call_id"), f"{param}.tool_call_id")
            texts = _openai_text_blocks(message.get("content"), f"{param}.content")
            text = "\n\n".join(block["text"] for block in texts)
            result: JSON = {"type": "tool_result", "tool_use_id": call_id, "content": text}
            _append(messages, "user", [result])
        else:
            raise _bad(
                f"{param}.role",
                f"{param}.role must be system, developer, user, assistant or tool.",
            )
    if not messages:
        raise _bad("messages", "messages must hold at least one user or assistant message.")
    if system:
        out["system"] = system
    out["messages"] = messages
    out["max_tokens"] = (
        _max_tokens(body, "max_completion_tokens", "max_tokens") or DEFAULT_MAX_TOKENS
    )
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if stop:
            out["stop_sequences"] = stop
    elif stop is not None:
        raise _bad("stop", "stop must be a string or an array of strings.")
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    tools = body.get("tools")
    if tools is not None:
        out["tools"] = [_openai_tool(t, f"tools[{i}]") for i, t in enumerate(_list(tools, "tools"))]
    choice = _openai_tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and out.get("tools"):
        choice = choice or {"type": "auto"}
        choice["disable_parallel_tool_use"] = True
    if choice is not None:
        if choice["type"] == "none":
            out.pop("tools", None)
        elif out.get("tools"):
            out["tool_choice"] = choice
    stream = _stream_flag(body)
    options = body.get("stream_options")
    include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    if stream:
        out["stream"] = True
    return Translated(out, stream, include_usage)


def _append(messages: list[JSON], role: str, blocks: list[JSON]) -> None:
    """Consecutive turns of one role are one Anthropic message (tool results in particular)."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _openai_text_blocks(content: Any, param: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for i, part in enumerate(_list(content, param)):
        part = _object(part, f"{param}[{i}]")
        if part.get("type") != "text":
            raise _bad(f"{param}[{i}].type", f"{param}[{i}] must be a text part here.")
        blocks.append({"type": "text", "text": _text(part.get("text"), f"{param}[{i}].text")})
    return blocks


def _openai_user_blocks(content: Any, param: str) -> list[JSON]:
    param = f"{param}.content"
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = []
    for i, part in enumerate(_list(content, param)):
        where = f"{param}[{i}]"
        part = _object(part, where)
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": _text(part.get("text"), f"{where}.text")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            blocks.append(_image_block(_text(url, f"{where}.image_url.url"), where))
        else:
            raise _bad(
                f"{where}.type",
                f"{where}.type {str(kind)[:40]!r} cannot be translated: text and image_url only.",
            )
    return blocks


def _image_block(url: str, where: str) -> JSON:
    if url.startswith(_DATA_URL_PREFIX):
        header, comma, data = url[len(_DATA_URL_PREFIX) :].partition(",")
        media_type, _, encoding = header.partition(";")
        if not comma or encoding != "base64" or not media_type:
            raise _bad(f"{where}.image_url.url", "an image data URL must be data:<type>;base64,...")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _openai_assistant_blocks(message: JSON, param: str) -> list[JSON]:
    blocks = _openai_text_blocks(message.get("content"), f"{param}.content")
    calls = message.get("tool_calls")
    if calls is None:
        return blocks
    for i, raw in enumerate(_list(calls, f"{param}.tool_calls")):
        where = f"{param}.tool_calls[{i}]"
        call = _object(raw, where)
        function = _object(call.get("function"), f"{where}.function")
        arguments = function.get("arguments") or "{}"
        try:
            parsed = orjson.loads(_text(arguments, f"{where}.function.arguments"))
        except orjson.JSONDecodeError:
            raise _bad(
                f"{where}.function.arguments", f"{where}.function.arguments must be JSON."
            ) from None
        blocks.append(
            {
                "type": "tool_use",
                "id": _text(call.get("id"), f"{where}.id"),
                "name": _text(function.get("name"), f"{where}.function.name"),
                "input": parsed if isinstance(parsed, dict) else {},
            }
        )
    return blocks


def _openai_tool(raw: Any, param: str) -> JSON:
    tool = _object(raw, param)
    if tool.get("type") != "function":
        raise _bad(f"{param}.type", f"{param}: only function tools can be translated.")
    function = _object(tool.get("function"), f"{param}.function")
    out: JSON = {
        "name": _text(function.get("name"), f"{param}.function.name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    return out


def _openai_tool_choice(choice: Any) -> JSON | None:
    if choice is None:
        return None
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = _object(choice.get("function"), "tool_choice.function")
        return {"type": "tool", "name": _text(function.get("name"), "tool_choice.function.name")}
    raise _bad("tool_choice", "tool_choice must be auto, required, none or a function.")


# ------------------------------------------------------------------ Anthropic client -> OpenAI API


def anthropic_to_openai(body: JSON, *, provider: str) -> Translated:
    """A messages request as a chat completions request to the OpenAI-compatible `provider`."""
    out: JSON = {}
    _common(body, out)
    messages: list[JSON] = []
    system = body.get("system")
    if system is not None:
        text = _anthropic_text(system, "system")
        if text:
            messages.append({"role": "system", "content": text})
    raw_messages = _list(body.get("messages"), "messages")
    if not raw_messages:
        raise _bad("messages", "messages must hold at least one message.")
    for i, raw in enumerate(raw_messages):
        param = f"messages[{i}]"
        message = _object(raw, param)
        role = message.get("role")
        if role == "user":
            messages.extend(_anthropic_user(message.get("content"), f"{param}.content"))
        elif role == "assistant":
            messages.append(_anthropic_assistant(message.get("content"), f"{param}.content"))
        else:
            raise _bad(f"{param}.role", f"{param}.role must be user or assistant.")
    out["messages"] = messages
    max_tokens = _max_tokens(body, "max_tokens")
    if max_tokens is None:
        raise _bad("max_tokens", "max_tokens is required.")
    # OpenAI's own API takes max_completion_tokens (its reasoning models refuse max_tokens);
    # the compatible providers know max_tokens.
    out["max_completion_tokens" if provider == "openai" else "max_tokens"] = max_tokens
    stop = body.get("stop_sequences")
    if stop is not None:
        stops = _list(stop, "stop_sequences")
        if not all(isinstance(s, str) for s in stops):
            raise _bad("stop_sequences", "stop_sequences must be an array of strings.")
        if stops:
            out["stop"] = stops
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    tools = body.get("tools")
    if tools is not None:
        out["tools"] = [
            _anthropic_tool(t, f"tools[{i}]") for i, t in enumerate(_list(tools, "tools"))
        ]
    choice = body.get("tool_choice")
    if choice is not None:
        choice = _object(choice, "tool_choice")
        kind = choice.get("type")
        if kind == "auto":
            out["tool_choice"] = "auto"
        elif kind == "any":
            out["tool_choice"] = "required"
        elif kind == "none":
            out["tool_choice"] = "none"
        elif kind == "tool":
            name = _text(choice.get("name"), "tool_choice.name")
            out["tool_choice"] = {"type": "function", "function": {"name": name}}
        else:
            raise _bad("tool_choice.type", "tool_choice.type must be auto, any, none or tool.")
        if choice.get("disable_parallel_tool_use") is True and out.get("tools"):
            out["parallel_tool_calls"] = False
        if not out.get("tools"):
            out.pop("tool_choice", None)
    stream = _stream_flag(body)
    if stream:
        out["stream"] = True
        if provider not in STREAM_OPTIONS_UNSUPPORTED:
            # The usage chunk is needed for the Anthropic client's final message_delta.
            out["stream_options"] = {"include_usage": True}
    return Translated(out, stream, include_usage=False)


def _anthropic_text(content: Any, param: str) -> str:
    """A string, or the text blocks of a content list joined."""
    if isinstance(content, str):
        return content
    texts = []
    for i, block in enumerate(_list(content, param)):
        block = _object(block, f"{param}[{i}]")
        if block.get("type") == "text":
            texts.append(_text(block.get("text"), f"{param}[{i}].text"))
        elif block.get("type") != "image":
            raise _bad(f"{param}[{i}].type", f"{param}[{i}] must be a text block here.")
    return "\n\n".join(texts)


def _anthropic_user(content: Any, param: str) -> list[JSON]:
    """One Anthropic user turn: its tool results first, each an OpenAI `tool` message, then the
    rest as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[JSON] = []
    parts: list[JSON] = []
    for i, block in enumerate(_list(content, param)):
        where = f"{param}[{i}]"
        block = _object(block, where)
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": _text(block.get("text"), f"{where}.text")})
        elif kind == "image":
            parts.append(_openai_image(block, where))
        elif kind == "tool_result":
            result = block.get("content")
            text = "" if result is None else _anthropic_text(result, f"{where}.content")
            if block.get("is_error") is True:
                text = f"Error: {text}"
            tool_messages.append(
                {
                    "role": "tool",
                    "tool_call_id": _text(block.get("tool_use_id"), f"{where}.tool_use_id"),
                    "content": text,
                }
            )
        else:
            raise _bad(
                f"{where}.type",
                f"{where}.type {str(kind)[:40]!r} cannot be translated: "
                "text, image and tool_result only.",
            )
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        user: Any = "\n\n".join(p["text"] for p in parts) if only_text else parts
        tool_messages.append({"role": "user", "content": user})
    return tool_messages


def _openai_image(block: JSON, where: str) -> JSON:
    source = _object(block.get("source"), f"{where}.source")
    kind = source.get("type")
    if kind == "base64":
        media = _text(source.get("media_type"), f"{where}.source.media_type")
        data = _text(source.get("data"), f"{where}.source.data")
        url = f"data:{media};base64,{data}"
    elif kind == "url":
        url = _text(source.get("url"), f"{where}.source.url")
    else:
        raise _bad(f"{where}.source.type", f"{where}.source.type must be base64 or url.")
    return {"type": "image_url", "image_url": {"url": url}}


def _anthropic_assistant(content: Any, param: str) -> JSON:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[JSON] = []
    for i, block in enumerate(_list(content, param)):
        where = f"{param}[{i}]"
        block = _object(block, where)
        kind = block.get("type")
        if kind == "text":
            texts.append(_text(block.get("text"), f"{where}.text"))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": _text(block.get("id"), f"{where}.id"),
                    "type": "function",
                    "function": {
                        "name": _text(block.get("name"), f"{where}.name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the other provider cannot read Anthropic's signed thinking
        else:
            raise _bad(f"{where}.type", f"{where}.type {str(kind)[:40]!r} cannot be translated.")
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _anthropic_tool(raw: Any, param: str) -> JSON:
    tool = _object(raw, param)
    if tool.get("type") not in (None, "custom"):
        raise _bad(f"{param}.type", f"{param}: Anthropic's server tools cannot be translated.")
    function: JSON = {
        "name": _text(tool.get("name"), f"{param}.name"),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}
