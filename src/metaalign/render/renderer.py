"""The one renderer: (System Info, User Info, dialogue) -> chat messages, text, token ids, mask.

Build, train, serve and eval all call this module, so training and serving see the same
bytes. It owns placing the meta-prompt (a system message, or folded into the first user
turn for templates without a system role), neutralising caller text, and the
assistant-only loss mask. It does not load models or tokenizers (see metaalign.models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from metaalign.errors import MetaAlignError, TemplateError
from metaalign.render.escape import KNOWN_MARKERS, Neutralizer, markers_for
from metaalign.render.layout import Layout, MetaPrompt, load_layout

DIALOGUE_ROLES = ("user", "assistant")
IGNORE_INDEX = -100

Dialogue = Sequence[Mapping[str, Any] | Any]


class DialogueError(MetaAlignError):
    """A dialogue the renderer cannot place in a chat (and where)."""


@dataclass(frozen=True)
class Rendered:
    """A rendered conversation: the exact text, its token ids, and which ids are trained."""

    text: str
    input_ids: list[int]
    assistant_mask: list[int]
    offsets: list[tuple[int, int]] | None = None  # each id's (start, end) in `text`, when asked for

    @property
    def labels(self) -> list[int]:
        """`input_ids` with every non-assistant position set to -100 (ignored by the loss)."""
        return [t if m else IGNORE_INDEX for t, m in zip(self.input_ids, self.assistant_mask, strict=True)]


def dialogue_problem(roles: Sequence[object]) -> tuple[int | None, str] | None:
    """The first way a dialogue's roles break the rules, as (turn index, what was expected).

    The rules, shared by records and the renderer: at least one turn; user and assistant
    alternate, starting with the user; no system turn (System Info is its own tier).
    """
    if not roles:
        return None, "at least one user message, got none"
    for index, role in enumerate(roles):
        want = DIALOGUE_ROLES[index % 2]
        if role == "system":
            return index, "no 'system' turn; put deployer instructions in system_info"
        if role != want:
            got = f"'{role}'" if isinstance(role, str) else repr(role)
            return index, f"'{want}' (turns alternate user/assistant, starting with user), got {got}"
    return None


def dialogue_turns(dialogue: Dialogue) -> list[dict[str, str]]:
    """Validate a dialogue into plain role/content dicts (see `dialogue_problem` for the rules).

    Accepts dicts or objects with `role` and `content` attributes (e.g. pydantic messages).
    """
    turns = []
    for message in dialogue:
        get = message.get if isinstance(message, Mapping) else lambda key, m=message: getattr(m, key, None)
        turns.append({"role": get("role"), "content": get("content")})
    problem = dialogue_problem([t["role"] for t in turns])
    if problem is not None:
        index, expected = problem
        raise DialogueError(f"dialogue{'' if index is None else f'[{index}].role'}: expected {expected}")
    for index, turn in enumerate(turns):
        if not isinstance(turn["content"], str):
            kind = type(turn["content"]).__name__
            raise DialogueError(f"dialogue[{index}].content: expected a string, got {kind}")
    return turns


def chat_messages(
    system_info: str | None,
    user_info: str | None,
    dialogue: Dialogue,
    *,
    system_role: bool = True,
    layout: Layout | None = None,
    neutralizer: Neutralizer | None = None,
) -> list[dict[str, str]]:
    """The chat messages a model (or an OpenAI-compatible endpoint) receives.

    With `system_role`, one system message holds the meta-prompt block; without it, the block
    is folded into the first user turn. Every caller string is neutralised.
    """
    layout = layout or load_layout()
    neutralizer = neutralizer or _known_markers_neutralizer(layout.tag_names)
    turns = [
        {"role": t["role"], "content": neutralizer.apply(t["content"])} for t in dialogue_turns(dialogue)
    ]
    block = layout.block(system_info, user_info, neutralizer)
    if system_role:
        return [{"role": "system", "content": block}, *turns]
    first = turns[0]
    turns[0] = {"role": "user", "content": block + layout.fold_separator + first["content"]}
    return turns


@cache
def _known_markers_neutralizer(tag_names: tuple[str, ...]) -> Neutralizer:
    """Built once per layout: the tokenizer-free path runs on every request."""
    return Neutralizer(tag_names, KNOWN_MARKERS)


class Renderer:
    """Binds the layout to one tokenizer and its chat template."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        layout: Layout | None = None,
        system_role: bool | None = None,
        markers: frozenset[str] | None = None,
    ) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateError("the tokenizer has no chat template; set tokenizer.chat_template first")
        self.tokenizer = tokenizer
        self.layout = layout or load_layout()
        self.neutralizer = Neutralizer(self.layout.tag_names, markers or markers_for(tokenizer))
        self._system_role = system_role

    @cached_property
    def system_role(self) -> bool:
        """Whether the chat template takes a system message as the first, separate turn."""
        if self._system_role is not None:
            return self._system_role
        return supports_system_role(self.tokenizer)

    def messages(self, system_info: str | None, user_info: str | None, dialogue: Dialogue) -> list[dict]:
        return chat_messages(
            system_info,
            user_info,
            dialogue,
            system_role=self.system_role,
            layout=self.layout,
            neutralizer=self.neutralizer,
        )

    def text(
        self,
        system_info: str | None,
        user_info: str | None,
        dialogue: Dialogue,
        *,
        add_generation_prompt: bool = False,
    ) -> str:
        """The exact string the tokenizer sees."""
        return self._apply(self.messages(system_info, user_info, dialogue), add_generation_prompt)

    def prompt(
        self, system_info: str | None, user_info: str | None, dialogue: Dialogue, *, offsets: bool = False
    ) -> Rendered:
        """The generation prompt: the dialogue plus the assistant header; nothing is trained.

        `offsets=True` also gives each id's character span (a fast tokenizer is needed), from the
        same single encoding.
        """
        text = self.text(system_info, user_info, dialogue, add_generation_prompt=True)
        if not offsets:
            ids = self._encode(text)
            return Rendered(text=text, input_ids=ids, assistant_mask=[0] * len(ids))
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])
        spans = [(int(a), int(b)) for a, b in encoded["offset_mapping"]]
        return Rendered(text=text, input_ids=ids, assistant_mask=[0] * len(ids), offsets=spans)

    def tokenize(self, system_info: str | None, user_info: str | None, dialogue: Dialogue) -> Rendered:
        """Token ids of the whole conversation and the assistant-only mask.

        Every assistant turn is trained, up to and including its end-of-turn token (the
        whitespace a template writes after that token is not). Each assistant turn and each
        stretch between them is tokenised on its own, so no token straddles a prompt/answer
        boundary: an answer starts exactly where generation starts after `prompt`, and the
        first turn's context has exactly the ids `prompt` gives.
        """
        messages = self.messages(system_info, user_info, dialogue)
        text = self._apply(messages, False)
        ids: list[int] = []
        mask: list[int] = []
        cut = 0
        for start, end in [*self._assistant_spans(messages, text), (len(text), len(text))]:
            for piece, trained in ((text[cut:start], 0), (text[start:end], 1)):
                piece_ids = self._encode(piece) if piece else []
                ids += piece_ids
                mask += [trained] * len(piece_ids)
            cut = end
        return Rendered(text=text, input_ids=ids, assistant_mask=mask)

    def parse(self, text: str) -> MetaPrompt:
        """Recover System Info and User Info from a rendered text (the inverse of rendering)."""
        return self.layout.parse(text, self.neutralizer)

    def _assistant_spans(self, messages: list[dict], full: str) -> list[tuple[int, int]]:
        spans = []
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self._apply(messages[:i], True)
            through = self._apply(messages[: i + 1], False)
            if not (through.startswith(before) and full.startswith(through)):
                raise TemplateError(
                    f"the chat template rewrites earlier turns when turn {i} is added, so the "
                    "assistant mask cannot be located; use a prefix-stable template"
                )
            spans.append((len(before), len(through.rstrip())))
        return spans

    def _apply(self, messages: list[dict], add_generation_prompt: bool) -> str:
        try:
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt
            )
        except Exception as err:  # jinja raises its own TemplateError from raise_exception()
            raise TemplateError(f"the chat template refused the conversation: {err}") from err

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


_PROBE = ("MA7SYSPROBE", "MA7USERONE", "MA7ASSTONE", "MA7USERTWO")


def supports_system_role(tokenizer: Any) -> bool:
    """True when the template renders a system message once, before the first user turn.

    Templates that raise on a system role (Mistral v0.x, Gemma), drop it, or move it next to
    the last user turn all get the fold-in layout instead.
    """
    system, user1, assistant1, user2 = _PROBE
    probe = [
        {"role": "system", "content": system},
        {"role": "user", "content": user1},
        {"role": "assistant", "content": assistant1},
        {"role": "user", "content": user2},
    ]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except Exception:
        return False
    return text.count(system) == 1 and text.index(system) < text.index(user1)
