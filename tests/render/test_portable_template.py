"""The portable chat template (written into GGUF files) renders exactly what the Renderer renders.

Five template families, through transformers' own Jinja engine: the Renderer's messages, a raw
system message, and no system message at all must give the Renderer's text for the same tiers.
"""

from __future__ import annotations

import copy

import pytest

from metaalign.render import Renderer, load_layout, supports_system_role
from metaalign.render.portable_template import MARKER, portable_chat_template

SI, UI = "Prioritize safety.", "I am a zookeeper."
DIALOGUE = [
    {"role": "user", "content": "Should animal testing be banned?"},
    {"role": "assistant", "content": "It is a hard question."},
    {"role": "user", "content": "Why?"},
]


def portable(tokenizer):
    """A copy of `tokenizer` whose chat template is the portable one."""
    twin = copy.deepcopy(tokenizer)
    twin.chat_template = portable_chat_template(
        tokenizer.chat_template, system_role=supports_system_role(tokenizer)
    )
    return twin


def apply(tokenizer, messages, generation: bool = True) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


@pytest.mark.parametrize("generation", [True, False])
def test_renderer_messages_render_byte_for_byte(family_tokenizer, generation: bool) -> None:
    renderer = Renderer(family_tokenizer)
    twin = portable(family_tokenizer)
    messages = renderer.messages(SI, UI, DIALOGUE)
    assert apply(twin, messages, generation) == renderer.text(
        SI, UI, DIALOGUE, add_generation_prompt=generation
    )


def test_no_system_message_gets_the_default_tiers_not_the_templates_own(family_tokenizer) -> None:
    renderer = Renderer(family_tokenizer)
    text = apply(portable(family_tokenizer), DIALOGUE)
    assert text == renderer.text(None, None, DIALOGUE, add_generation_prompt=True)
    assert load_layout().default_user_info in text
    assert "named SmolLM" not in text  # SmolLM2's injected default system prompt


def test_a_plain_system_message_is_system_info(family_tokenizer) -> None:
    """Also for templates that reject a system role (Mistral, Gemma): the preamble folds it first."""
    renderer = Renderer(family_tokenizer)
    raw = [{"role": "system", "content": "Be brief."}, *DIALOGUE]
    assert apply(portable(family_tokenizer), raw) == renderer.text(
        "Be brief.", None, DIALOGUE, add_generation_prompt=True
    )


def test_a_renderer_on_the_portable_template_renders_the_same(family_tokenizer) -> None:
    """What the project's own loader sees when it reads the template back out of a GGUF file."""
    original, twin = Renderer(family_tokenizer), Renderer(portable(family_tokenizer))
    assert twin.text(SI, UI, DIALOGUE, add_generation_prompt=True) == original.text(
        SI, UI, DIALOGUE, add_generation_prompt=True
    )
    assert twin.tokenize(SI, UI, [*DIALOGUE, {"role": "assistant", "content": "Ok."}]) == original.tokenize(
        SI, UI, [*DIALOGUE, {"role": "assistant", "content": "Ok."}]
    )


def test_the_preamble_is_added_once() -> None:
    once = portable_chat_template("{{ messages }}")
    assert once.startswith(MARKER % load_layout().version)
    assert portable_chat_template(once) == once
