"""Generation engines behind one small protocol: `Engine.generate(requests) -> completions`.

base.py holds the protocol, the request/completion types, streaming helpers and a fake;
hf.py the transformers backend (its loop in decode.py, kvcache.py, prefix.py, token_sampling.py,
textstream.py); vllm.py the vLLM backend; ctranslate2_engine.py the CTranslate2 backend;
load.py `load_engine`, the one way to build any of them.
Importing this package pulls in no torch.
"""

from metaalign.engine.base import (
    Completion,
    DeltaCallback,
    Engine,
    FakeEngine,
    GenerationRequest,
    StreamingEngine,
    stream_from,
)

__all__ = [
    "Completion",
    "DeltaCallback",
    "Engine",
    "FakeEngine",
    "GenerationRequest",
    "StreamingEngine",
    "stream_from",
]
