"""The meta-prompt renderer: the only code that turns (System Info, User Info, dialogue) into model input.

`Renderer` binds it to a tokenizer (text, token ids, assistant-only mask); `chat_messages`
gives plain chat messages for OpenAI-compatible endpoints. See layout.py for the versioned
layout and escape.py for the spoofing defence.
"""

from metaalign.render.escape import KNOWN_MARKERS, Neutralizer, markers_for
from metaalign.render.layout import LAYOUT_VERSION, Layout, MetaPrompt, load_layout
from metaalign.render.renderer import (
    IGNORE_INDEX,
    DialogueError,
    Rendered,
    Renderer,
    chat_messages,
    dialogue_turns,
    supports_system_role,
)

__all__ = [
    "IGNORE_INDEX",
    "KNOWN_MARKERS",
    "LAYOUT_VERSION",
    "DialogueError",
    "Layout",
    "MetaPrompt",
    "Neutralizer",
    "Rendered",
    "Renderer",
    "chat_messages",
    "dialogue_turns",
    "load_layout",
    "markers_for",
    "supports_system_role",
]
