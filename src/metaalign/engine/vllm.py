"""The vLLM backend of `Engine` (GPU only; `pip install metaalign[vllm]`), with automatic prefix caching.

Owns mapping requests onto vLLM: prompts rendered by the one renderer and passed as token
ids, per-request SamplingParams (seed, stop strings, max tokens), and streaming through the
engine's step loop. vLLM does the batching and reuses the shared System Info prefix itself
(`enable_prefix_caching=True`). vllm is imported only when this backend is built, never on CPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from metaalign.engine.base import Completion, DeltaCallback, GenerationRequest, stream_from
from metaalign.errors import MetaAlignError
from metaalign.render import Renderer


class VLLMEngine:
    """Generates with a `vllm.LLM`; greedy when temperature is 0, like the transformers backend."""

    def __init__(self, llm: Any, tokenizer: Any) -> None:
        self.llm = llm
        self.tokenizer = tokenizer
        self.renderer = Renderer(tokenizer)
        engine = llm.llm_engine
        config = getattr(engine, "model_config", None) or engine.vllm_config.model_config
        self.context_window = int(config.max_model_len)

    @classmethod
    def from_pretrained(cls, ref: str, **llm_kw: Any) -> VLLMEngine:
        import torch

        if not torch.cuda.is_available():
            raise MetaAlignError("the vllm backend needs a CUDA GPU; use --backend transformers on CPU")
        try:
            from vllm import LLM
        except ImportError as err:
            raise MetaAlignError("the vllm backend needs `pip install metaalign[vllm]`") from err
        from metaalign.models import load_tokenizer
        from metaalign.models.convert import ensure_local

        path = str(ensure_local(ref))  # aliases and GGUF files become a plain folder first
        llm_kw.setdefault("enable_prefix_caching", True)
        return cls(LLM(model=path, **llm_kw), load_tokenizer(ref))

    def prompt_ids(self, request: GenerationRequest) -> tuple[list[int], int]:
        """The rendered prompt's ids (vLLM finds shared prefixes itself: no cut is given)."""
        return self.renderer.prompt(request.system_info, request.user_info, request.dialogue).input_ids, 0

    def prompt_tokens(self, request: GenerationRequest) -> int:
        return len(self.prompt_ids(request)[0])

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        on_delta: DeltaCallback | None = None,
        *,
        prompts: Sequence[tuple[list[int], int]] | None = None,
    ) -> list[Completion]:
        """One Completion per request; deltas and ends are reported as the engine steps. `prompts`:
        their `prompt_ids`, when the caller rendered them already."""
        engine = self.llm.llm_engine
        ids = {}
        for i, request in enumerate(requests):
            prompt_ids = prompts[i][0] if prompts is not None else self.prompt_ids(request)[0]
            rid = f"metaalign-{id(requests)}-{i}"
            ids[rid] = i
            engine.add_request(rid, {"prompt_token_ids": prompt_ids}, self._params(request))
        results: list[Completion | None] = [None] * len(requests)
        seen = [""] * len(requests)
        while engine.has_unfinished_requests():
            for output in engine.step():
                i = ids.get(output.request_id)
                if i is None:
                    continue
                self._report(output, i, seen, results, on_delta)
        return results  # type: ignore[return-value]  # every request finishes before the loop ends

    def _report(
        self, output: Any, i: int, seen: list[str], results: list, on_delta: DeltaCallback | None
    ) -> None:
        text = output.outputs[0].text
        if on_delta is not None and len(text) > len(seen[i]) and text.startswith(seen[i]):
            on_delta(i, text[len(seen[i]) :], None)
        seen[i] = text
        if output.finished:
            out = output.outputs[0]
            finish = "length" if out.finish_reason == "length" else "stop"
            results[i] = Completion(text, len(output.prompt_token_ids), len(out.token_ids), finish)
            if on_delta is not None:
                on_delta(i, "", results[i])

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        return stream_from(self, request)

    @staticmethod
    def _params(request: GenerationRequest) -> Any:
        from vllm import SamplingParams

        return SamplingParams(
            max_tokens=request.max_new_tokens,
            temperature=request.temperature,
            top_p=request.top_p if request.temperature > 0 else 1.0,
            seed=request.seed,
            stop=list(request.stop) or None,
            skip_special_tokens=True,
        )
