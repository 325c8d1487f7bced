"""`metaalign render` and `metaalign generate`, wired to a fixture tokenizer and a fake engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.tokenizers import make_tokenizer
from metaalign.cli.main import main
from metaalign.engine import FakeEngine

TIERS = ["--system-info", "Prioritize safety.", "--user-info", "I am a zookeeper."]


@pytest.fixture(autouse=True)
def fixture_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def load_tokenizer(ref: str):
        seen.append(ref)
        return make_tokenizer("gemma" if ref == "gemma-like" else "smollm2")

    monkeypatch.setattr("metaalign.models.load_tokenizer", load_tokenizer)


def test_render_text_prints_the_exact_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", *TIERS, "--query", "Hello?"]) == 0
    assert capsys.readouterr().out == (
        "<|im_start|>system\n<System Info>\nPrioritize safety.\n</System Info>\n<User Info>\n"
        "I am a zookeeper.\n</User Info><|im_end|>\n"
        "<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_render_folds_for_a_template_without_system_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", *TIERS, "--query", "Hello?", "--model", "gemma-like", "--format", "messages"]) == 0
    (message,) = json.loads(capsys.readouterr().out)
    assert message["role"] == "user"
    assert message["content"].startswith("<System Info>\nPrioritize safety.\n")
    assert message["content"].endswith("</User Info>\n\nHello?")


def test_render_tokens_of_a_dialogue_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dialogue = tmp_path / "d.json"
    dialogue.write_text(
        json.dumps([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])
    )
    assert main(["render", *TIERS, "--dialogue", str(dialogue), "--format", "tokens"]) == 0
    out = json.loads(capsys.readouterr().out)
    tokenizer = make_tokenizer("smollm2")
    trained = [t for t, m in zip(out["input_ids"], out["assistant_mask"], strict=True) if m]
    assert tokenizer.decode(trained) == "Yo<|im_end|>"


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "expected a JSON list of chat turns"), ('{"role": "user"}', "got dict")],
)
def test_render_bad_dialogue_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    dialogue = tmp_path / "d.json"
    dialogue.write_text(content)
    assert main(["render", "--dialogue", str(dialogue)]) == 2
    err = capsys.readouterr().err
    assert str(dialogue) in err and message in err


def test_render_system_message_in_dialogue_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dialogue = tmp_path / "d.json"
    dialogue.write_text(json.dumps([{"role": "system", "content": "x"}, {"role": "user", "content": "q"}]))
    assert main(["render", "--dialogue", str(dialogue)]) == 2
    assert "dialogue[0].role" in capsys.readouterr().err


def test_generate_passes_the_tiers_and_settings_to_the_engine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = FakeEngine(respond=lambda r: f"{r.system_info}|{r.user_info}|{r.dialogue[-1]['content']}")
    monkeypatch.setattr(
        "metaalign.engine.hf.TransformersEngine.from_pretrained", classmethod(lambda cls, ref, **kw: engine)
    )
    argv = [
        "generate",
        *TIERS,
        "--query",
        "Hi?",
        "--max-new-tokens",
        "7",
        "--temperature",
        "0.5",
        "--seed",
        "3",
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out == "Prioritize safety.|I am a zookeeper.|Hi?\n"
    (request,) = engine.seen
    assert (request.max_new_tokens, request.temperature, request.seed) == (7, 0.5, 3)


@pytest.mark.parametrize(
    ("turns", "message"),
    [([], "at least one user message"), (["hi"], r"dialogue[0].role"), ([{"role": "user"}], "content")],
)
def test_render_bad_turns_are_refused_before_loading_a_model(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    turns: list,
    message: str,
) -> None:
    monkeypatch.setattr("metaalign.models.load_tokenizer", lambda ref: pytest.fail("loaded a tokenizer"))
    dialogue = tmp_path / "d.json"
    dialogue.write_text(json.dumps(turns))
    assert main(["render", "--dialogue", str(dialogue)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"metaalign: error: {dialogue}: ") and message in err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-new-tokens", "0", "expected a value >= 1, got 0"),
        ("--top-p", "0", "expected a value in (0.0, 1.0], got 0"),
        ("--top-p", "1.5", "expected a value in (0.0, 1.0], got 1.5"),
        ("--temperature", "-1", "expected a value >= 0.0, got -1"),
        ("--threads", "two", "expected an integer, got 'two'"),
    ],
)
def test_generate_settings_out_of_range_are_usage_errors(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["generate", "--query", "q", flag, value])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
