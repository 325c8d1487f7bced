"""The transformers backend of `Engine`: batched generation on CPU or GPU with our own decode loop.

Owns turning requests into batches through the one renderer, grouping requests that share a
System Info prefix so its KV cache is computed once (prefix.py), and streaming text deltas.
The loop itself is decode.py. It does not resolve or convert models (metaalign.models);
torch and transformers are imported here, so only import this module inside commands.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from metaalign.engine.base import Completion, DeltaCallback, GenerationRequest, stream_from
from metaalign.engine.decode import Row
from metaalign.engine.prefix import PrefixCache, split_prompt
from metaalign.engine.scheduler import ContinuousDecoder
from metaalign.engine.textstream import TextStream
from metaalign.engine.token_sampling import RowSampler
from metaalign.models.resolver import DEFAULT_MODEL
from metaalign.render import Renderer


class TransformersEngine:
    """Generates with a transformers causal LM; requests under one System Info share its prefill.

    `prefix_cache_size=0` turns prefix reuse off; `min_prefix_tokens` is the shortest prefix
    worth caching. Greedy results equal `model.generate` on the same prompt.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        batch_size: int = 16,
        prefix_cache_size: int = 8,
        min_prefix_tokens: int = 16,
    ) -> None:
        self.model = model.eval()
        self.dtype = "fp32"  # the weights' precision when built by from_pretrained (precision.py)
        self.tokenizer = tokenizer
        self.renderer = Renderer(tokenizer)
        self.batch_size = batch_size
        self.prefixes = PrefixCache(prefix_cache_size) if prefix_cache_size > 0 else None
        self.min_prefix_tokens = min_prefix_tokens
        # Left padding is masked out, so any id will do; EOS where the tokenizer names no pad.
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.end_ids = end_token_ids(tokenizer, model.generation_config.eos_token_id)
        self.context_window = int(getattr(model.config, "max_position_embeddings", 0) or 0) or None
        # A server renders prompts on its worker threads while this engine may encode on its own
        # batch thread; fast tokenizers may refuse concurrent calls that touch their settings.
        self._encode_lock = threading.Lock()
        self._seen: OrderedDict[int, None] = OrderedDict()  # hashes of prefixes met before

    @classmethod
    def from_pretrained(
        cls, ref: str = DEFAULT_MODEL, *, dtype: str | None = None, fuse: bool = True, **kw: Any
    ) -> TransformersEngine:
        """The engine for model `ref` with weights in `dtype`: fp32, bf16 or int8 (precision.py).

        None: DEFAULT_DTYPE on a CPU, the loader's own choice (bf16 or fp16) on a GPU. `fuse`: one
        matmul for each MLP's gate and up projections (fusion.py; the same greedy texts, faster).
        """
        from metaalign.engine.fusion import fuse_mlps
        from metaalign.engine.precision import DEFAULT_DTYPE, apply_dtype, check_dtype
        from metaalign.models import load_model, load_tokenizer

        name = check_dtype(dtype) if dtype else None
        model = load_model(ref, dtype="float32" if name else None)
        if fuse:
            fuse_mlps(model)
        if name is None and model.device.type == "cpu":
            name = DEFAULT_DTYPE
        engine = cls(apply_dtype(model, name) if name else model, load_tokenizer(ref), **kw)
        engine.dtype = name or str(model.dtype).removeprefix("torch.")
        return engine

    def prompt_ids(self, request: GenerationRequest) -> tuple[list[int], int]:
        """The rendered prompt's ids and how many leading ids form its reusable prefix (prefix.py)."""
        with self._encode_lock:
            cut_from = self.min_prefix_tokens if self.prefixes is not None else None
            return split_prompt(self.renderer, request, cut_from)

    def prompt_tokens(self, request: GenerationRequest) -> int:
        with self._encode_lock:
            rendered = self.renderer.prompt(request.system_info, request.user_info, request.dialogue)
        return len(rendered.input_ids)

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        on_delta: DeltaCallback | None = None,
        *,
        prompts: Sequence[tuple[list[int], int]] | None = None,
    ) -> list[Completion]:
        """One Completion per request, in order; `on_delta(i, text, None)` streams as tokens come,
        then `on_delta(i, "", completion)` marks request i done. `prompts`: their `prompt_ids`, when
        the caller rendered them already."""
        prompts = list(prompts) if prompts is not None else [self.prompt_ids(r) for r in requests]
        order = deque(
            i
            for _key, indices in self._plan(prompts)
            for i in sorted(indices, key=lambda i: len(prompts[i][0]))
        )
        results: list[Completion | None] = [None] * len(requests)
        decoder = ContinuousDecoder(self)

        def emit(i: int) -> Callable[[str], None] | None:
            return None if on_delta is None else (lambda delta: on_delta(i, delta, None))

        def finish(done: list[tuple[Any, Completion]]) -> None:
            for i, completion in done:
                results[i] = completion
                if on_delta is not None:
                    on_delta(i, "", completion)

        while order or decoder.active:  # a finished row's slot is refilled before the next step
            free = self.batch_size - decoder.active
            if order and free > 0 and decoder.joinable:
                take = [order.popleft() for _ in range(min(free, len(order)))]
                finish(decoder.admit([(requests[i], emit(i), i) for i in take], [prompts[i] for i in take]))
            finish(decoder.step())
        return results  # type: ignore[return-value]  # every index was filled above

    def decoder(self) -> ContinuousDecoder:
        """A running batch that requests can join between steps (the server's continuous batching)."""
        return ContinuousDecoder(self)

    def _plan(self, prompts: list[tuple[list[int], int]]) -> list[tuple[tuple[int, ...], list[int]]]:
        """Groups request indices by shared prefix; requests not worth a prefix share one plain group.

        A prefix is worth its own group when several requests share it, or when every request
        of the call shares it and it is cached or was met in an earlier call (a server sees a
        few requests at a time). Others (say, build's many different System Infos) are batched
        together without reuse, so batches stay full.
        """
        by_key: dict[tuple[int, ...], list[int]] = {}
        for i, (ids, cut) in enumerate(prompts):
            by_key.setdefault(tuple(ids[:cut]), []).append(i)
        groups, plain = [], []
        for key, indices in by_key.items():
            if key and self.prefixes is not None and self._worth_reusing(key, len(indices), len(prompts)):
                groups.append((key, indices))
            else:
                plain.extend(indices)
        return [*groups, ((), plain)] if plain else groups

    def _worth_reusing(self, key: tuple[int, ...], count: int, total: int) -> bool:
        assert self.prefixes is not None
        digest = hash(key)
        seen = digest in self._seen
        self._seen[digest] = None
        self._seen.move_to_end(digest)
        while len(self._seen) > 1024:
            self._seen.popitem(last=False)
        if count >= min(4, self.batch_size):
            return True
        return count == total and (seen or key in self.prefixes.entries)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The text of one request, delta by delta, as it is generated."""
        return stream_from(self, request)

    def _row(
        self, request: GenerationRequest, ids: list[int], emit: Callable[[str], None] | None, tag: Any
    ) -> Row:
        decode = lambda kept: self.tokenizer.decode(kept, skip_special_tokens=True)  # noqa: E731
        return Row(
            ids=ids,
            max_new_tokens=request.max_new_tokens,
            sampler=RowSampler(request.temperature, request.top_p, request.seed),
            stream=TextStream(decode, request.stop),
            on_delta=emit,
            tag=tag,
        )


def end_token_ids(tokenizer: Any, eos_token_id: int | list[int] | None) -> frozenset[int]:
    """The ids that end an answer: the model's generation-config EOS id(s) and the tokenizer's."""
    ids = [] if eos_token_id is None else eos_token_id
    ends = set(ids if isinstance(ids, list | tuple) else [ids]) | {tokenizer.eos_token_id}
    return frozenset(e for e in ends if e is not None)
