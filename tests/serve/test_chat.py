"""`metaalign chat`: slash commands edit the tiers live; answers stream; piped stdin works."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from metaalign.engine import FakeEngine
from metaalign.serve.chat import HELP, ChatSession, run_chat


def chat(lines: str, engine=None, **kw) -> tuple[str, ChatSession]:
    session = ChatSession(engine or FakeEngine(), **kw)
    out = io.StringIO()
    assert run_chat(session, io.StringIO(lines), out) == 0
    return out.getvalue(), session


def test_commands_edit_the_tiers_that_the_next_answer_uses() -> None:
    engine = FakeEngine()
    out, session = chat(
        "/system Be brief.\n/user I like cats.\nhello\n/user\nagain\n/show\n/quit\nnever sent\n", engine
    )
    assert [(r.system_info, r.user_info) for r in engine.seen] == [
        ("Be brief.", "I like cats."),
        ("Be brief.", None),
    ]
    assert "echo: hello\n" in out and "never sent" not in out
    assert "System Info: Be brief.\nUser Info: (none)\nuser: hello\nassistant: echo: hello" in out
    assert [t["content"] for t in engine.seen[1].dialogue] == ["hello", "echo: hello", "again"]
    assert len(session.dialogue) == 4


def test_reset_help_and_unknown_commands() -> None:
    engine = FakeEngine()
    out, _session = chat("one\n/reset\ntwo\n/help\n/nope\n", engine)
    assert [len(r.dialogue) for r in engine.seen] == [1, 1]  # /reset forgot the first exchange
    assert HELP in out and "unknown command /nope" in out


def test_answers_stream_delta_by_delta() -> None:
    writes: list[str] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)

    session = ChatSession(FakeEngine(respond=lambda r: "a b c d"))
    session.reply("q", Recorder())
    assert writes == ["a", " b", " c", " d", "\n"]


@pytest.mark.slow
def test_the_command_reads_piped_stdin() -> None:
    metaalign = Path(sys.executable).with_name("metaalign")
    result = subprocess.run(
        [str(metaalign), "chat", "--engine", "fake", "--system-info", "Deployer rule"],
        input="/user Ann\nhi there\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["User Info set.", "[SI=Deployer rule|UI=Ann] hi there"]
