"""A stand-alone chat template that places the meta-prompt the way the renderer does.

Owns the Jinja preamble written into exported model files (GGUF `tokenizer.chat_template`), so a
runtime that applies the embedded template (llama.cpp, LM Studio, transformers) builds the same
system message as `metaalign render`. It is derived from the versioned layout file; it does not
neutralise caller text (Jinja cannot run escape.py), which the Renderer still does.
"""

from __future__ import annotations

import json

from metaalign.render.layout import Layout, load_layout

MARKER = "{#- metaalign meta-prompt preamble, layout v%d -#}"


def _literal(text: str) -> str:
    """A Jinja string literal for `text` (JSON's escapes are Jinja's for these characters)."""
    return json.dumps(text, ensure_ascii=False)


def meta_prompt_preamble(layout: Layout, *, system_role: bool = True) -> str:
    """Jinja that rewrites `messages` so the first turn carries a meta-prompt block.

    - A system message that already is a rendered block (from the Renderer, `metaalign render
      --format messages`, or an Ollama SYSTEM line) is kept byte for byte.
    - Any other system message is taken as System Info, with the default User Info.
    - No system message: both tiers get their documented defaults (never the template's own
      default system prompt).
    Without `system_role`, the block is folded into the first user turn, as the Renderer does
    (a first user turn that already holds a folded block is kept as it is).
    """
    start, tail = layout.template.split("{system_info}")  # "<System Info>\n", then the rest
    middle, end = tail.split("{user_info}")
    parts = {
        "start": _literal(start),
        "end": _literal(end),
        "user_mid": _literal(middle),
        "default_sys": _literal(layout.default_system_info),
        "default_user": _literal(layout.default_user_info),
        "fold": _literal(layout.fold_separator),
    }
    lines = [
        MARKER % layout.version,
        "{%- set _ma_first = messages[0] if messages else none -%}",
        "{%- if _ma_first is not none and _ma_first['role'] == 'system' -%}",
        "{%- set _ma_info = _ma_first['content'] -%}{%- set _ma_rest = messages[1:] -%}",
        "{%- else -%}{%- set _ma_info = '' -%}{%- set _ma_rest = messages -%}{%- endif -%}",
        "{%- if _ma_info is string and _ma_info.startswith({start}) and _ma_info.endswith({end}) -%}",
        "{%- set _ma_block = _ma_info -%}",
        "{%- else -%}",
        "{%- if _ma_info is not string or not _ma_info.strip() -%}"
        "{%- set _ma_info = {default_sys} -%}{%- endif -%}",
        "{%- set _ma_block = {start} + _ma_info + {user_mid} + {default_user} + {end} -%}",
        "{%- endif -%}",
    ]
    if system_role:
        lines.append("{%- set messages = [{'role': 'system', 'content': _ma_block}] + _ma_rest -%}")
    else:
        lines += [  # a first user turn that already starts with a folded block is left alone
            "{%- set _ma_head = _ma_rest[0]['content'] if _ma_rest else none -%}",
            "{%- if _ma_head is string and _ma_first['role'] != 'system' and _ma_head.startswith({start})"
            " and ({end} + {fold}) in _ma_head -%}{%- set _ma_rest = [] -%}{%- endif -%}",
            "{%- if _ma_rest -%}",
            "{%- set messages = [{'role': _ma_rest[0]['role'], 'content': _ma_block + {fold} + "
            "_ma_rest[0]['content']}] + _ma_rest[1:] -%}",
            "{%- endif -%}",
        ]
    text = "\n".join(lines)
    for key, value in parts.items():
        text = text.replace("{" + key + "}", value)
    return text + "\n"


def portable_chat_template(
    chat_template: str, *, system_role: bool = True, layout: Layout | None = None
) -> str:
    """`chat_template` with the meta-prompt preamble in front (kept as is when it already has one)."""
    layout = layout or load_layout()
    if chat_template.startswith(MARKER % layout.version):
        return chat_template
    return meta_prompt_preamble(layout, system_role=system_role) + chat_template
