"""Incremental detokenisation with stop strings: token ids in, safe text deltas out.

Owns one request's growing text: decoding the ids generated so far, cutting at the first
stop string, and holding back text that may still become a stop string or is an unfinished
UTF-8 character. It does not pick tokens (token_sampling.py) or batch rows (decode.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT = "\ufffd"  # what a tokenizer prints for an unfinished multi-byte character


class TextStream:
    """Feeds token ids one at a time; `push` returns the new text that is safe to show."""

    def __init__(self, decode: Callable[[list[int]], str], stop: Sequence[str] = ()) -> None:
        self.decode = decode
        self.stop = tuple(s for s in stop if s)
        self.ids: list[int] = []
        self.text = ""  # the full text so far, cut at a stop string once one is found
        self.emitted = 0  # characters of `text` already handed out
        self.stopped = False  # a stop string was found

    def push(self, token_id: int) -> str:
        """Adds one generated id; returns the delta to emit (possibly empty)."""
        self.ids.append(token_id)
        text = self.decode(self.ids)
        cut = _first_stop(text, self.stop, max(0, self.emitted - self._longest_stop()))
        if cut is not None:
            self.text, self.stopped = text[:cut], True
            return self._emit(len(self.text))
        self.text = text
        return self._emit(len(text) - self._held_back(text))

    def finish(self) -> str:
        """The rest of the text once generation ends (nothing more is held back)."""
        return self._emit(len(self.text.rstrip(REPLACEMENT)) if not self.stopped else len(self.text))

    def _emit(self, upto: int) -> str:
        if upto <= self.emitted:
            return ""
        delta = self.text[self.emitted : upto]
        self.emitted = upto
        return delta

    def _longest_stop(self) -> int:
        return max((len(s) for s in self.stop), default=0)

    def _held_back(self, text: str) -> int:
        """How many trailing characters to keep back: an unfinished character or a stop's start."""
        if text.endswith(REPLACEMENT):
            return len(text) - len(text.rstrip(REPLACEMENT))
        held = 0
        for s in self.stop:
            for k in range(min(len(s) - 1, len(text)), held, -1):
                if text.endswith(s[:k]):
                    held = k
                    break
        return held


def _first_stop(text: str, stop: Sequence[str], start: int) -> int | None:
    """Index of the earliest stop string found at or after `start`, or None."""
    found = [i for i in (text.find(s, start) for s in stop) if i >= 0]
    return min(found) if found else None
