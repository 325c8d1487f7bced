"""The trust boundary: which tier each part of an OpenAI request may reach, given the key's role.

Owns two pure rules. `resolve_tiers` (what a key may write): deployer keys (and the config) write
System Info; user keys write User Info and the dialogue only, and a user's system/developer message
or System Info field is refused (403) or demoted into User Info, per the config. `hides_system_info`
(what a key may read): the deployer's System Info text never goes back to a user key. Tags inside
any text are neutralised later by the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

from metaalign.render.renderer import dialogue_problem
from metaalign.serve.config import Role, ServeConfig
from metaalign.serve.protocol import ChatCompletionRequest

SYSTEM_ROLES = ("system", "developer")
# What a user key is shown instead of the deployer's System Info (the rendered prompt keeps its place).
HIDDEN_SYSTEM_INFO = "[hidden: the deployer's System Info is not shown to user keys]"


class Refused(Exception):
    """A request the boundary turns away: HTTP status, message, error code and the offending field."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


@dataclass(frozen=True)
class Tiers:
    system_info: str | None
    user_info: str | None
    dialogue: tuple[dict[str, str], ...]
    system_info_source: str  # "config", "deployer" or "default"
    demoted: int = 0  # system texts from a user key moved into User Info


def resolve_tiers(request: ChatCompletionRequest, role: Role, config: ServeConfig) -> Tiers:
    """Splits `request` into the three tiers the renderer takes; raises Refused (400/403)."""
    leading = 0
    while leading < len(request.messages) and request.messages[leading].role in SYSTEM_ROLES:
        leading += 1
    system_texts = [m.text() for m in request.messages[:leading]]
    ext = request.metaalign
    if ext is not None and ext.system_info is not None:
        system_texts.append(ext.system_info)
    dialogue = tuple({"role": m.role, "content": m.text()} for m in request.messages[leading:])
    _check_dialogue(dialogue, leading)
    user_info = ext.user_info if ext is not None else None
    if role == "deployer":
        if system_texts:
            return Tiers("\n\n".join(system_texts), user_info, dialogue, "deployer")
        return Tiers(config.system_info, user_info, dialogue, config_source(config))
    source = config_source(config)
    if not system_texts:
        return Tiers(config.system_info, user_info, dialogue, source)
    if config.system_message_policy == "reject":
        param = "messages[0].role" if leading else "metaalign.system_info"
        raise Refused(
            403,
            "this API key may not set System Info (system/developer messages or metaalign.system_info); "
            "put your preferences in metaalign.user_info",
            "system_info_forbidden",
            param,
        )
    demoted = "\n\n".join(t for t in [user_info, *system_texts] if t)
    return Tiers(config.system_info, demoted, dialogue, source, demoted=len(system_texts))


def hides_system_info(role: Role, system_info_source: str) -> bool:
    """Whether a key of `role` must not see the System Info that came from `system_info_source`.

    The deployer's text (from the config) is hidden from user keys; the documented default is
    public, and a deployer key sees everything.
    """
    return role != "deployer" and system_info_source == "config"


def config_source(config: ServeConfig) -> str:
    """Where the System Info of a request without its own comes from: "config" or "default"."""
    return "config" if config.system_info else "default"


def _check_dialogue(dialogue: tuple[dict[str, str], ...], offset: int) -> None:
    """User and assistant turns alternate from a user turn and end with one; system ones lead."""
    roles = [turn["role"] for turn in dialogue]
    if any(r in SYSTEM_ROLES for r in roles):
        index = offset + next(i for i, r in enumerate(roles) if r in SYSTEM_ROLES)
        raise Refused(
            400,
            "system/developer messages must come before all others",
            "invalid_messages",
            f"messages[{index}].role",
        )
    problem = dialogue_problem(roles)
    if problem is not None:
        index, expected = problem
        where = "messages" if index is None else f"messages[{offset + index}].role"
        raise Refused(400, f"{where}: expected {expected}", "invalid_messages", where)
    for i, turn in enumerate(dialogue):
        if turn["role"] == "user" and not turn["content"].strip():
            where = f"messages[{offset + i}].content"
            raise Refused(400, f"{where}: a user message must not be empty", "invalid_messages", where)
    if roles[-1] != "user":
        where = f"messages[{offset + len(roles) - 1}].role"
        raise Refused(400, f"{where}: the last message must be a user message", "invalid_messages", where)
