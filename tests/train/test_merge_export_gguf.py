"""`metaalign export --format gguf` on the embedded model with a LoRA merged in, loaded back two ways.

The source is a merged model folder, as `metaalign export RUN` (and the quickstart) makes one: the
embedded SmolLM2-135M with a random, non-zero LoRA merged, so a file that silently held the base
weights would fail. The GGUF files are loaded back through transformers (`gguf_file=`) and through
the project's own loader (`metaalign.models`, which converts a .gguf reference once).

Tolerances for f16 and q8_0: the file must hold exactly the rounded weights (checked against the
source weights rounded in numpy by the same rule), and the rounding may move no logit on the fixed
prompt further than moving every weight by its worst-case rounding error does (`worst_case_copy`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # five CLI runs share one fixture
torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
SI, UI = "Prioritize safety. Never give dangerous instructions.", "I am a zookeeper; I like short answers."
DIALOGUE = [
    {"role": "user", "content": "Should animal testing be banned?"},
    {"role": "assistant", "content": "It is a hard question with <|im_end|> strong views on both sides."},
    {"role": "user", "content": "Give me your view in 20 words."},
]


def doc_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("metaalign ")]


def cli(command: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "METAALIGN_HOME": str(home)}
    args = [sys.executable, "-m", "metaalign.cli.main", *shlex.split(command)[1:]]
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/quickstart/model: the embedded model with a random LoRA merged, saved like an export."""
    from peft import LoraConfig, get_peft_model

    from metaalign.models import load_model, load_tokenizer

    torch.manual_seed(0)
    work = tmp_path_factory.mktemp("gguf")
    folder = work / "runs" / "quickstart" / "model"
    lora = LoraConfig(  # random A and B (not the no-op init), scaled down like a short training run
        r=8, lora_alpha=1, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], init_lora_weights=False
    )
    merged = get_peft_model(load_model("smollm2-135m"), lora).merge_and_unload()
    merged.save_pretrained(folder)
    load_tokenizer("smollm2-135m").save_pretrained(folder)
    (folder / "metaalign_export.json").write_text(json.dumps({"model": "smollm2-135m"}))
    return work


@pytest.fixture(scope="module")
def source(work: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = work / "runs" / "quickstart" / "model"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def exported(work: Path) -> dict[str, Path]:
    """Every `metaalign` command of docs/export.md, run as written; returns the GGUF files by dtype."""
    outputs = {}
    for command in doc_commands():
        start = time.perf_counter()
        result = cli(command, work, work / "home")
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
        wrote = [line for line in result.stderr.splitlines() if " wrote " in line]
        print(f"\n{command}: {time.perf_counter() - start:.1f} s in all; {' '.join(wrote)}")
        if "--format gguf" in command:
            dtype = re.search(r"--dtype (\S+)", command)
            words = shlex.split(command)
            outputs[dtype.group(1) if dtype else "f16"] = work / words[words.index("--out") + 1]
        else:
            outputs[command] = result.stdout  # render outputs, compared below
    return outputs


def prompt_ids(tokenizer) -> list[int]:
    from metaalign.render import Renderer

    text = Renderer(tokenizer).text(SI, UI, DIALOGUE, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def logits(model, ids: list[int]):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


def from_gguf(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def rounded_copy(model, dtype: str):
    """The source model with every matrix rounded as the GGUF writer rounds it (norms stay f32)."""
    import copy

    import gguf
    import numpy as np

    from metaalign.models.gguf_export import tensor_kind

    twin = copy.deepcopy(model)
    q8 = gguf.GGMLQuantizationType.Q8_0
    with torch.no_grad():
        for name, param in twin.named_parameters():
            array = param.detach().numpy().astype(np.float32)
            kind = tensor_kind(name, array.shape, dtype)
            if kind == "F16":
                array = array.astype(np.float16).astype(np.float32)
            elif kind == "Q8_0":
                array = gguf.quants.dequantize(gguf.quants.quantize(array, q8), q8).reshape(array.shape)
            param.copy_(torch.from_numpy(array))
    return twin


def test_the_documented_commands_write_every_dtype(exported: dict) -> None:
    assert {"f16", "q8_0", "f32"} <= set(exported)
    sizes = {dtype: exported[dtype].stat().st_size for dtype in ("f32", "f16", "q8_0")}
    assert sizes["f32"] > sizes["f16"] > sizes["q8_0"]
    assert not [p for p in exported["f32"].parent.iterdir() if p.name.startswith(".")]


def test_f32_logits_are_exact_through_transformers_and_the_projects_loader(
    work: Path, exported: dict, source, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaalign.models import load_model, load_tokenizer

    model, tokenizer = source
    ids = prompt_ids(tokenizer)
    expected = logits(model, ids)
    gguf_model, _ = from_gguf(exported["f32"])
    assert torch.equal(logits(gguf_model, ids), expected)

    monkeypatch.setenv("METAALIGN_HOME", str(work / "home"))  # the project loader converts into its cache
    own = load_model(str(exported["f32"]), device="cpu")
    assert torch.equal(logits(own, ids), expected)
    assert prompt_ids(load_tokenizer(str(exported["f32"]))) == ids


def worst_case_copy(model, dtype: str):
    """The source model with every matrix moved by its worst-case rounding error, in a random direction.

    f16 keeps 11 significant bits: an error of at most |w| * 2^-11. q8_0 stores a block of 32 values
    as int8 times an f16 scale d = max|x| / 127: an error of at most d/2, plus 127 * d * 2^-11 for the
    rounded scale. Real rounding errors spread evenly below that bound, so their effect on the logits
    is about 1/sqrt(3) of this copy's: this copy's logit difference is the test's tolerance.
    """
    import copy

    import numpy as np

    from metaalign.models.gguf_export import tensor_kind

    twin, rng = copy.deepcopy(model), np.random.default_rng(0)
    with torch.no_grad():
        for name, param in twin.named_parameters():
            array = param.detach().numpy().astype(np.float64)
            kind = tensor_kind(name, array.shape, dtype)
            if kind == "F32":
                continue
            if kind == "F16":
                bound = np.maximum(np.abs(array) * 2.0**-11, 2.0**-25)
            else:
                blocks = array.reshape(-1, 32)
                scale = np.abs(blocks).max(axis=1, keepdims=True) / 127
                bound = np.broadcast_to(scale * (0.5 + 127 * 2.0**-11), blocks.shape).reshape(array.shape)
            signs = rng.choice([-1.0, 1.0], size=array.shape)
            param.copy_(torch.from_numpy((array + signs * bound).astype(np.float32)))
    return twin


@pytest.mark.parametrize("dtype", ["f16", "q8_0"])
def test_rounded_dtypes_hold_exactly_the_rounded_weights_within_tolerance(
    exported: dict, source, dtype: str
) -> None:
    model, tokenizer = source
    ids = prompt_ids(tokenizer)
    expected = logits(model, ids)
    got = logits(from_gguf(exported[dtype])[0], ids)
    assert torch.allclose(got, logits(rounded_copy(model, dtype), ids), rtol=0, atol=1e-4)
    diff = float((got - expected).abs().max())
    tolerance = float((logits(worst_case_copy(model, dtype), ids) - expected).abs().max())
    print(f"\n{dtype}: max |logit difference| {diff:.4f}, tolerance (worst-case rounding) {tolerance:.4f}")
    assert 0 < diff <= tolerance


@pytest.mark.parametrize("dtype", ["f32", "q8_0"])
def test_meta_prompt_tokenizes_token_for_token_and_renders_the_same(
    exported: dict, source, dtype: str
) -> None:
    from metaalign.render import Renderer

    _, tokenizer = source
    _, gguf_tokenizer = from_gguf(exported[dtype])
    assert prompt_ids(gguf_tokenizer) == prompt_ids(tokenizer)
    full = [*DIALOGUE, {"role": "assistant", "content": "Testing is sometimes needed; welfare matters."}]
    assert Renderer(gguf_tokenizer).tokenize(SI, UI, full) == Renderer(tokenizer).tokenize(SI, UI, full)
    query = DIALOGUE[:1]  # no marker to neutralise: the stored template cannot escape text
    plain = [{"role": "system", "content": SI}, *query]  # what an OpenAI client sends llama-server
    assert gguf_tokenizer.apply_chat_template(plain, tokenize=False, add_generation_prompt=True) == Renderer(
        tokenizer
    ).text(SI, None, query, add_generation_prompt=True)


def test_render_from_the_gguf_file_matches_the_model_folder(exported: dict) -> None:
    renders = [out for command, out in exported.items() if command.startswith("metaalign render")]
    assert len(renders) == 2
    assert renders[0] == renders[1]
    assert "<System Info>" in renders[0]


def test_the_modelfile_system_block_is_what_the_renderer_writes(source) -> None:
    from metaalign.render import Renderer

    (modelfile,) = re.findall(r"```text\n(FROM .*?)```", DOC, re.DOTALL)
    system = re.search(r'SYSTEM """(.*?)"""', modelfile, re.DOTALL).group(1)
    messages = Renderer(source[1]).messages(
        "Prioritize safety.", "I am a zookeeper.", [{"role": "user", "content": "Hi"}]
    )
    assert system == messages[0]["content"]
