"""`metaalign chat`: an interactive terminal chat with live-editable System Info and User Info.

Owns the session state (the two tiers, the dialogue so far, sampling settings) and the
slash commands; answers stream from any Engine that reports deltas. It does not load models
(cli/serve.py does) or render prompts (the engine does, through the one renderer).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from metaalign.engine.base import GenerationRequest, stream_from

HELP = """commands:
  /system TEXT   set System Info (the deployer's tier); /system alone clears it
  /user TEXT     set User Info (your preferences or background); /user alone clears it
  /show          show System Info, User Info and the dialogue so far
  /reset         forget the dialogue (System Info and User Info stay)
  /help          this list
  /quit          leave (so does end of input)
anything else is sent as your next message."""


@dataclass
class ChatSession:
    """The state of one chat; `handle` takes one input line and returns what to print (None: quit)."""

    engine: Any
    system_info: str | None = None
    user_info: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    dialogue: list[dict[str, str]] = field(default_factory=list)

    def command(self, line: str) -> str | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip() or None
        if name == "/quit":
            return None
        if name == "/help":
            return HELP
        if name == "/system":
            self.system_info = arg
            return f"System Info {'set' if arg else 'cleared'}."
        if name == "/user":
            self.user_info = arg
            return f"User Info {'set' if arg else 'cleared'}."
        if name == "/reset":
            self.dialogue.clear()
            return "Dialogue cleared."
        if name == "/show":
            return self.show()
        return f"unknown command {name}; /help lists the commands"

    def show(self) -> str:
        lines = [
            f"System Info: {self.system_info or '(default)'}",
            f"User Info: {self.user_info or '(none)'}",
        ]
        lines += [f"{turn['role']}: {turn['content']}" for turn in self.dialogue]
        return "\n".join(lines)

    def reply(self, message: str, out: TextIO) -> str:
        """Streams the answer to `message` into `out` and adds both turns to the dialogue."""
        turns = (*self.dialogue, {"role": "user", "content": message})
        request = GenerationRequest(self.system_info, self.user_info, turns, **self.sampling)
        parts = []
        for delta in stream_from(self.engine, request):
            parts.append(delta)
            out.write(delta)
            out.flush()
        out.write("\n")
        answer = "".join(parts)
        self.dialogue += [{"role": "user", "content": message}, {"role": "assistant", "content": answer}]
        return answer


def run_chat(session: ChatSession, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Reads lines until /quit or end of input; prompts only when the input is a terminal."""
    interactive = stdin.isatty()
    if interactive:
        stdout.write("MetaAlign chat. /help lists the commands.\n")
    while True:
        if interactive:
            stdout.write("you> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            return 0
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("/"):
            said = session.command(line)
            if said is None:
                return 0
            stdout.write(said + "\n")
            continue
        session.reply(line, stdout)
