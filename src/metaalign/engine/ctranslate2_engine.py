"""The CTranslate2 backend of `Engine` (CPU; `pip install metaalign[ctranslate2]`), with `static_prompt`.

Owns converting a model once per quantization into the model cache, and mapping requests onto
`Generator.generate_batch`: prompts rendered by the one renderer and passed as tokens, the shared
prefix as `static_prompt` when every row of a batch has it, and per-row stops, limits and
streaming through its per-token callback. Static batches only: no continuous batching, and a
batch's rows are not dropped mid-way. ctranslate2 is imported only when this backend is built.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from metaalign.engine.base import Completion, DeltaCallback, GenerationRequest, stream_from
from metaalign.engine.decode import Row
from metaalign.engine.hf import end_token_ids
from metaalign.engine.prefix import split_prompt
from metaalign.engine.scheduler import completion_of
from metaalign.engine.textstream import TextStream
from metaalign.errors import MetaAlignError
from metaalign.models.resolver import DEFAULT_MODEL
from metaalign.render import Renderer

COMPUTE_TYPES = {"fp32": "float32", "int8": "int8_float32", "bf16": "bfloat16"}  # our --dtype -> CT2's
Prompt = tuple[list[int], int]  # ids and the reusable prefix's length (prompt_ids)


class CTranslate2Engine:
    """Generates with a `ctranslate2.Generator`; greedy (temperature 0) equals the transformers engine.

    Rows with the same sampling settings run as one static batch of up to `batch_size`; a
    prefix of at least `min_prefix_tokens` shared by all of them goes as `static_prompt`.
    A request's `seed` is not honoured (see `_sampling`).
    """

    def __init__(
        self,
        generator: Any,
        tokenizer: Any,
        *,
        end_ids: frozenset[int] | None = None,
        batch_size: int = 16,
        min_prefix_tokens: int = 16,
        context_window: int | None = None,
        dtype: str = "fp32",
    ) -> None:
        self.generator = generator
        self.tokenizer = tokenizer
        self.renderer = Renderer(tokenizer)
        self.end_ids = end_ids if end_ids is not None else end_token_ids(tokenizer, None)
        self.batch_size = batch_size
        self.min_prefix_tokens = min_prefix_tokens
        self.context_window = context_window
        self.dtype = dtype
        self._encode_lock = threading.Lock()  # the server renders on worker threads (see hf.py)

    @classmethod
    def from_pretrained(
        cls,
        ref: str = DEFAULT_MODEL,
        *,
        dtype: str | None = None,
        threads: int | None = None,
        device: str = "cpu",
        **kw: Any,
    ) -> CTranslate2Engine:
        """The engine for model `ref`, converted (once, cached) to CTranslate2 in `dtype`.

        `dtype`: fp32, int8 (int8 weights, fp32 activations) or bf16 where the device has it
        (None: precision.py's measured default). `threads`: CTranslate2's intra-op threads.
        """
        ctranslate2 = import_ctranslate2()
        from metaalign.engine.precision import DEFAULT_DTYPE, check_dtype
        from metaalign.models import ensure_local, load_tokenizer

        name = check_dtype(dtype or DEFAULT_DTYPE)
        compute = compute_type(name, ctranslate2.get_supported_compute_types(device), device)
        folder = ensure_local(ref)
        converted = converted_folder(folder, compute)
        generator = ctranslate2.Generator(
            str(converted), device=device, compute_type=compute, intra_threads=threads or 0
        )
        config = _read_json(folder / "config.json")
        eos = _read_json(folder / "generation_config.json").get("eos_token_id", config.get("eos_token_id"))
        tokenizer = load_tokenizer(ref)
        return cls(
            generator,
            tokenizer,
            end_ids=end_token_ids(tokenizer, eos),
            context_window=config.get("max_position_embeddings"),
            dtype=name,
            **kw,
        )

    def prompt_ids(self, request: GenerationRequest) -> Prompt:
        """The rendered prompt's ids and how many leading ids form its shared prefix (prefix.py)."""
        with self._encode_lock:
            return split_prompt(self.renderer, request, self.min_prefix_tokens)

    def prompt_tokens(self, request: GenerationRequest) -> int:
        return len(self.prompt_ids(request)[0])

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        on_delta: DeltaCallback | None = None,
        *,
        prompts: Sequence[Prompt] | None = None,
    ) -> list[Completion]:
        """One Completion per request, in order; `on_delta(i, text, None)` streams as tokens come,
        then `on_delta(i, "", completion)` marks request i done. `prompts`: their `prompt_ids`, when
        the caller rendered them already."""
        prompts = list(prompts) if prompts is not None else [self.prompt_ids(r) for r in requests]
        results: list[Completion | None] = [None] * len(requests)

        def done(row: Row) -> None:
            results[row.tag] = completion_of(row)
            if on_delta is not None:
                on_delta(row.tag, "", results[row.tag])

        for batch in self._plan(requests, prompts):
            rows = [self._row(requests[i], prompts[i][0], on_delta, i) for i in batch]
            self._run(rows, [prompts[i] for i in batch], requests[batch[0]], done)
        return results  # type: ignore[return-value]  # every index was filled above

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The text of one request, delta by delta, as it is generated."""
        return stream_from(self, request)

    def _plan(self, requests: Sequence[GenerationRequest], prompts: Sequence[Prompt]) -> list[list[int]]:
        """Request indices in batches of at most `batch_size` that share sampling settings (CTranslate2
        takes one setting per call), sorted by prefix and length so a batch tends to share its prefix."""
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            key = (r.temperature, r.top_p) if r.temperature > 0 else (0.0, 1.0)
            groups.setdefault(key, []).append(i)
        batches = []
        for indices in groups.values():
            indices.sort(key=lambda i: (prompts[i][0][: prompts[i][1]], len(prompts[i][0])))
            batches += [indices[k : k + self.batch_size] for k in range(0, len(indices), self.batch_size)]
        return batches

    def _row(self, request: GenerationRequest, ids: list[int], on_delta: DeltaCallback | None, i: int) -> Row:
        decode = lambda kept: self.tokenizer.decode(kept, skip_special_tokens=True)  # noqa: E731
        emit = None if on_delta is None else (lambda delta: on_delta(i, delta, None))
        stream = TextStream(decode, request.stop)
        return Row(ids, request.max_new_tokens, sampler=None, stream=stream, on_delta=emit, tag=i)

    def _run(
        self, rows: list[Row], prompts: list[Prompt], settings: GenerationRequest, done: Callable[[Row], None]
    ) -> None:
        """One `generate_batch` call for `rows`; each row's tokens go through `Row.take` as they come."""
        cut = prompts[0][1]
        shared = cut > 0 and all(c == cut and ids[:cut] == prompts[0][0][:cut] for ids, c in prompts)
        skip = cut if shared else 0
        failed: list[BaseException] = []

        def on_token(step: Any) -> bool:  # True stops this row
            row = rows[step.batch_id]
            if failed or row.finish is not None:
                return True
            try:
                row.take(step.token_id, self.end_ids)
                if row.finish is not None:
                    done(row)
            except BaseException as err:  # raised again below, never lost inside CTranslate2
                failed.append(err)
            return bool(failed) or row.finish is not None

        self.generator.generate_batch(
            [self.tokenizer.convert_ids_to_tokens(ids[skip:]) for ids, _ in prompts],
            static_prompt=self.tokenizer.convert_ids_to_tokens(prompts[0][0][:cut]) if shared else None,
            include_prompt_in_result=False,
            end_token=sorted(self.end_ids),
            max_length=max(row.max_new_tokens for row in rows),
            callback=on_token,
            **_sampling(settings),
        )
        if failed:
            raise failed[0]
        for row in rows:  # CTranslate2 ended it without our noticing (say, at its own length limit)
            if row.finish is None:
                row.end("length" if len(row.generated) >= row.max_new_tokens else "stop")
                done(row)


def _sampling(request: GenerationRequest) -> dict[str, Any]:
    """CTranslate2's sampling keywords for `request`'s settings (greedy when temperature is 0).

    `seed` is not honoured: CTranslate2 samples with a random generator per worker thread, which
    `ctranslate2.set_random_seed` does not reach once the thread has run (measured).
    """
    if request.temperature <= 0:
        return {"sampling_topk": 1}
    return {"sampling_topk": 0, "sampling_topp": request.top_p, "sampling_temperature": request.temperature}


def import_ctranslate2() -> Any:
    """The ctranslate2 module, or a MetaAlignError saying how to install it."""
    try:
        import ctranslate2
    except ImportError as err:
        raise MetaAlignError(
            "the ctranslate2 backend needs the ctranslate2 package: pip install 'metaalign[ctranslate2]'"
        ) from err
    return ctranslate2


def compute_type(dtype: str, supported: set[str], device: str = "cpu") -> str:
    """CTranslate2's compute type for our `dtype`; a MetaAlignError when the device lacks it."""
    compute = COMPUTE_TYPES[dtype]
    if compute not in supported:
        raise MetaAlignError(
            f"dtype {dtype} ({compute}) is not supported by CTranslate2 on this {device} "
            f"(it offers {', '.join(sorted(supported))}); use --dtype fp32 or int8"
        )
    return compute


def converted_folder(folder: Path, quantization: str) -> Path:
    """The CTranslate2 conversion of Hugging Face folder `folder` in `quantization`, made once.

    Cached under the model cache by the folder's name, a fingerprint of its path and files (a
    changed model converts anew) and the quantization; built atomically (models.convert).
    """
    from metaalign.models.convert import build_atomically
    from metaalign.models.resolver import models_dir

    target = models_dir() / "ctranslate2" / f"{folder.name}-{_fingerprint(folder)}-{quantization}"
    return build_atomically(
        target,
        lambda tmp: convert(folder, tmp, quantization),
        label=f"{folder.name} ({quantization})",
        done=lambda out: (out / "model.bin").is_file(),
    )


def convert(folder: Path, out: Path, quantization: str) -> None:
    """Writes `folder`'s model in CTranslate2's format into the existing folder `out`."""
    import sys

    from ctranslate2.converters import TransformersConverter

    print(f"metaalign: converting {folder.name} to CTranslate2 ({quantization}), once", file=sys.stderr)
    TransformersConverter(str(folder), low_cpu_mem_usage=True).convert(
        str(out), quantization=quantization, force=True
    )


def _fingerprint(folder: Path) -> str:
    h = hashlib.sha1(str(folder.absolute()).encode("utf-8"))
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin"):
            stat = path.stat()
            h.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:10]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
