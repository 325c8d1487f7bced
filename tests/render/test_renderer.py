"""The renderer on five chat-template families: golden text, placement, and the loss mask.

The tokenizers are offline stand-ins (tests/fixtures) carrying each family's real chat
template and special tokens. Golden strings are written out by hand from the templates.
"""

from __future__ import annotations

import pytest

from fixtures.tokenizers import FAMILIES, family_spec, make_tokenizer
from metaalign.errors import TemplateError
from metaalign.render import IGNORE_INDEX, DialogueError, Renderer, chat_messages

SI, UI = "Prioritize safety.", "I am a zookeeper."
BLOCK = "<System Info>\nPrioritize safety.\n</System Info>\n<User Info>\nI am a zookeeper.\n</User Info>"
Q1, A1, Q2, A2 = (
    "Should animal testing be banned?",
    "It is a hard question.",
    "Why?",
    "Because both sides matter.",
)
DIALOGUE = [
    {"role": "user", "content": Q1},
    {"role": "assistant", "content": A1},
    {"role": "user", "content": Q2},
]

GOLDEN_PROMPTS = {
    "smollm2": (
        f"<|im_start|>system\n{BLOCK}<|im_end|>\n<|im_start|>user\n{Q1}<|im_end|>\n"
        f"<|im_start|>assistant\n{A1}<|im_end|>\n<|im_start|>user\n{Q2}<|im_end|>\n<|im_start|>assistant\n"
    ),
    "qwen2": (
        f"<|im_start|>system\n{BLOCK}<|im_end|>\n<|im_start|>user\n{Q1}<|im_end|>\n"
        f"<|im_start|>assistant\n{A1}<|im_end|>\n<|im_start|>user\n{Q2}<|im_end|>\n<|im_start|>assistant\n"
    ),
    "llama3": (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{BLOCK}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{Q1}<|eot_id|>"
        f"<|start_header_id|>assistant<|end_header_id|>\n\n{A1}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{Q2}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "mistral": f"<s>[INST] {BLOCK}\n\n{Q1} [/INST]{A1}</s> [INST] {Q2} [/INST]",
    "gemma": (
        f"<bos><start_of_turn>user\n{BLOCK}\n\n{Q1}<end_of_turn>\n"
        f"<start_of_turn>model\n{A1}<end_of_turn>\n<start_of_turn>user\n{Q2}<end_of_turn>\n"
        "<start_of_turn>model\n"
    ),
}


def test_every_family_has_a_golden_prompt() -> None:
    assert sorted(GOLDEN_PROMPTS) == sorted(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_golden_prompt(family: str) -> None:
    renderer = Renderer(make_tokenizer(family))
    assert renderer.text(SI, UI, DIALOGUE, add_generation_prompt=True) == GOLDEN_PROMPTS[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_system_role_detected_from_the_template(family: str) -> None:
    assert Renderer(make_tokenizer(family)).system_role is family_spec(family).supports_system


@pytest.mark.parametrize("family", ["smollm2", "qwen2"])
def test_injected_default_system_prompt_never_appears(family: str) -> None:
    injected = family_spec(family).default_system_prompt
    text = Renderer(make_tokenizer(family)).text(None, None, DIALOGUE, add_generation_prompt=True)
    assert injected and injected not in text
    assert text.count("<|im_start|>system\n") == 1


def test_chat_messages_without_a_tokenizer() -> None:
    assert chat_messages(SI, UI, DIALOGUE[:1]) == [
        {"role": "system", "content": BLOCK},
        {"role": "user", "content": Q1},
    ]
    assert chat_messages(SI, UI, DIALOGUE[:1], system_role=False) == [
        {"role": "user", "content": f"{BLOCK}\n\n{Q1}"}
    ]


@pytest.mark.parametrize(
    ("dialogue", "message"),
    [
        ([], "at least one user message"),
        ([{"role": "system", "content": "x"}, {"role": "user", "content": "q"}], "put deployer instructions"),
        ([{"role": "assistant", "content": "a"}], r"dialogue\[0\].role: expected 'user' \(turns alternate"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], r"dialogue\[1\].role"),
        ([{"role": "user", "content": 3}], r"dialogue\[0\].content: expected a string"),
        ([{"role": "user", "content": "q"}, {"role": "tool", "content": "x"}], r"dialogue\[1\].role"),
    ],
)
def test_bad_dialogues_are_refused_with_the_position(dialogue: list, message: str) -> None:
    with pytest.raises(DialogueError, match=message):
        chat_messages(SI, UI, dialogue)


def test_template_errors_are_reported_not_raised_raw() -> None:
    from fixtures.tokenizers import build_tokenizer

    tokenizer = build_tokenizer("smollm2")
    tokenizer.chat_template = (
        "{% if messages | length > 2 %}{{ raise_exception('two turns at most') }}{% endif %}x"
    )
    renderer = Renderer(tokenizer, system_role=True)
    with pytest.raises(TemplateError, match="refused the conversation: two turns at most"):
        renderer.text(SI, UI, DIALOGUE)


# --- the loss mask -------------------------------------------------------------------------

FULL = [*DIALOGUE, {"role": "assistant", "content": A2}]


def trained_runs(input_ids: list[int], mask: list[int]) -> list[list[int]]:
    """Maximal runs of consecutive trained token ids."""
    runs: list[list[int]] = []
    for i, (token, m) in enumerate(zip(input_ids, mask, strict=True)):
        if m:
            if i == 0 or not mask[i - 1]:
                runs.append([])
            runs[-1].append(token)
    return runs


@pytest.mark.parametrize("family", FAMILIES)
def test_mask_is_exactly_the_assistant_tokens_with_end_of_turn(family: str) -> None:
    tokenizer = make_tokenizer(family)
    eot = family_spec(family).end_of_turn
    rendered = Renderer(tokenizer).tokenize(SI, UI, FULL)
    expected = [
        tokenizer.encode(answer + eot, add_special_tokens=False) for answer in (A1, A2)
    ]  # each answer's own tokens, then its end-of-turn token
    assert trained_runs(rendered.input_ids, rendered.assistant_mask) == expected
    assert tokenizer.decode(rendered.input_ids) == rendered.text  # the ids are the text


@pytest.mark.parametrize("family", FAMILIES)
def test_end_of_turn_closes_every_trained_run(family: str) -> None:
    tokenizer = make_tokenizer(family)
    eot_id = tokenizer.convert_tokens_to_ids(family_spec(family).end_of_turn)
    rendered = Renderer(tokenizer).tokenize(SI, UI, FULL)
    runs = trained_runs(rendered.input_ids, rendered.assistant_mask)
    assert len(runs) == 2
    assert all(run[-1] == eot_id for run in runs)
    labels = rendered.labels
    assert [t for t in labels if t != IGNORE_INDEX] == [t for run in runs for t in run]


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_trains_nothing_and_is_a_prefix_of_the_full_conversation(family: str) -> None:
    renderer = Renderer(make_tokenizer(family))
    prompt = renderer.prompt(SI, UI, DIALOGUE)
    assert sum(prompt.assistant_mask) == 0
    assert prompt.text == GOLDEN_PROMPTS[family]
    full = renderer.tokenize(SI, UI, FULL)
    assert full.input_ids[: len(prompt.input_ids)] == prompt.input_ids


def test_mask_keeps_edge_whitespace_of_answers_that_the_template_keeps() -> None:
    tokenizer = make_tokenizer("smollm2")
    answer = "  spaced answer \n"
    rendered = Renderer(tokenizer).tokenize(SI, UI, [DIALOGUE[0], {"role": "assistant", "content": answer}])
    (run,) = trained_runs(rendered.input_ids, rendered.assistant_mask)
    assert tokenizer.decode(run) == answer + "<|im_end|>"


@pytest.mark.slow
@pytest.mark.parametrize("answers", [(A1, A2), ("\n\nHello", "  two leading spaces\n\n"), ("\n", "é🙂 ")])
def test_mask_on_the_real_smollm2_tokenizer(smollm2_tokenizer, answers: tuple[str, str]) -> None:
    """Real BPE merges runs of whitespace; no token may straddle the header/answer boundary."""
    tokenizer = smollm2_tokenizer
    renderer = Renderer(tokenizer)
    dialogue = [DIALOGUE[0], {"role": "assistant", "content": answers[0]}, DIALOGUE[2]]
    full = renderer.tokenize(SI, UI, [*dialogue, {"role": "assistant", "content": answers[1]}])
    expected = [tokenizer.encode(a + "<|im_end|>", add_special_tokens=False) for a in answers]
    assert trained_runs(full.input_ids, full.assistant_mask) == expected
    first_prompt = renderer.prompt(SI, UI, dialogue[:1]).input_ids
    assert full.input_ids[: len(first_prompt)] == first_prompt
    # Turn 2's context is the same text as its inference-time prompt (the earlier answer is
    # tokenised on its own, so its ids may differ from a whole-text tokenisation).
    second_start = max(i for i, m in enumerate(full.assistant_mask) if m and not full.assistant_mask[i - 1])
    second_prompt = renderer.prompt(SI, UI, dialogue).text
    assert tokenizer.decode(full.input_ids[:second_start]) == second_prompt
    assert tokenizer.decode(full.input_ids) == full.text


def test_prefix_unstable_templates_are_refused() -> None:
    from fixtures.tokenizers import build_tokenizer

    tokenizer = build_tokenizer("smollm2")
    # A template that renders the turn count first changes earlier text as turns are added.
    tokenizer.chat_template = (
        "{{ messages | length }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    with pytest.raises(TemplateError, match="rewrites earlier turns"):
        Renderer(tokenizer).tokenize(SI, UI, FULL)
