"""Generation engines behind one small protocol: `Engine.generate(requests) -> completions`.

base.py holds the protocol, the request/completion types and a fake for tests; hf.py the
transformers backend. Importing this package pulls in no torch.
"""

from metaalign.engine.base import Completion, Engine, FakeEngine, GenerationRequest

__all__ = ["Completion", "Engine", "FakeEngine", "GenerationRequest"]
