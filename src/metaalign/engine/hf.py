"""The transformers backend of `Engine`: batched generation on CPU or GPU with a KV cache.

Owns turning requests into left-padded batches through the one renderer, sampling settings,
stop strings and decoding. It does not resolve or convert models (metaalign.models does);
torch and transformers are imported here, so only import this module inside commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from metaalign.engine.base import Completion, GenerationRequest, cut_at_stop
from metaalign.models.resolver import DEFAULT_MODEL
from metaalign.render import Renderer


class TransformersEngine:
    """Generates with a transformers causal LM; requests with equal settings share a batch."""

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 16) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.renderer = Renderer(tokenizer)
        self.batch_size = batch_size
        # Left padding is masked out, so any id will do; EOS where the tokenizer names no pad.
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.end_ids = set(_as_list(model.generation_config.eos_token_id)) | {tokenizer.eos_token_id}

    @classmethod
    def from_pretrained(cls, ref: str = DEFAULT_MODEL, **kw: Any) -> TransformersEngine:
        from metaalign.models import load_model, load_tokenizer

        return cls(load_model(ref), load_tokenizer(ref), **kw)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        results: list[Completion] = [None] * len(requests)  # type: ignore[list-item]  # all filled below
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.max_new_tokens, r.temperature, r.top_p, r.seed, r.stop), []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                for i, completion in zip(
                    chunk, self._generate_batch([requests[i] for i in chunk]), strict=True
                ):
                    results[i] = completion
        return results

    @torch.inference_mode()
    def _generate_batch(self, batch: list[GenerationRequest]) -> list[Completion]:
        first = batch[0]
        prompts = [self.renderer.prompt(r.system_info, r.user_info, r.dialogue).input_ids for r in batch]
        width = max(map(len, prompts))
        pad = self.pad_id
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.model.device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=ids.device)
        if first.seed is not None:
            torch.manual_seed(first.seed)
        sampling = first.temperature > 0
        output = self.model.generate(
            input_ids=ids,
            attention_mask=attention,
            max_new_tokens=first.max_new_tokens,
            do_sample=sampling,
            temperature=first.temperature if sampling else None,
            top_p=first.top_p if sampling else None,
            top_k=None,
            pad_token_id=pad,
        )
        return [
            self._completion(row[width:].tolist(), len(p), first)
            for row, p in zip(output, prompts, strict=True)
        ]

    def _completion(self, new_ids: list[int], prompt_len: int, request: GenerationRequest) -> Completion:
        cut = next((k for k, t in enumerate(new_ids) if t in self.end_ids), None)
        kept = new_ids if cut is None else new_ids[:cut]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        stopped = cut_at_stop(text, request.stop)
        finish = "stop" if cut is not None or stopped != text else "length"
        return Completion(stopped, prompt_len, len(kept), finish)


def _as_list(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
