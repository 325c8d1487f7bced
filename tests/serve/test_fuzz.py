"""Property-based fuzzing of the served OpenAPI spec with schemathesis: no request gets a 5xx.

Runs schemathesis' CLI (positive and negative examples, all operations) against a fake-engine
server, with a user key, bounded to a fixed number of examples and a fixed seed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from serve_fixtures import USER_KEY, make_config

from metaalign.engine import FakeEngine, GenerationRequest

pytestmark = pytest.mark.slow


def through_the_real_sampler(request: GenerationRequest) -> str:
    """Answers after drawing a token with the engine's own sampler, so any temperature or top_p
    the API lets through (1e-300, say) is exercised as the transformers backend would."""
    import torch

    from metaalign.engine.token_sampling import RowSampler, next_tokens

    sampler = RowSampler(request.temperature, request.top_p, request.seed)
    (token,) = next_tokens(torch.tensor([[0.5, 2.0, 1.0, -1.0]]), [sampler])
    return f"token {token}"


def test_schemathesis_finds_no_server_error(serve, tmp_path) -> None:
    from fixtures.tokenizers import make_tokenizer
    from metaalign.render import Renderer

    st = Path(sys.executable).with_name("st")
    # a generous rate and queue: the fuzzer checks input handling, test_limits checks the limits
    engine = FakeEngine(respond=through_the_real_sampler)
    renderer = Renderer(make_tokenizer("smollm2"))  # so /v1/metaalign/render renders what it is sent
    with serve(engine, make_config(max_queue=1000, max_tokens_limit=64), renderer=renderer) as s:
        result = subprocess.run(
            [str(st), "run", s.url + "/openapi.json", "--checks", "not_a_server_error",
             "-H", f"Authorization: Bearer {USER_KEY}", "--max-examples", "100", "--seed", "5",
             "--workers", "1", "--generation-database", "none", "--no-color"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated is not None and int(generated.group(1)) >= 100, tail
    assert len(engine.seen) >= 20, tail  # the fuzzer got past validation to the engine, often
    assert "failed" not in result.stdout.split("SUMMARY")[-1], tail
