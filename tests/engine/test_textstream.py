"""Incremental text with stop strings, on a fake tokenizer where each id is one character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from metaalign.engine.textstream import REPLACEMENT, TextStream


def chars(ids: list[int]) -> str:
    return "".join(chr(i) for i in ids)


def feed(text: str, stop=()) -> tuple[list[str], TextStream]:
    stream = TextStream(chars, stop)
    deltas = []
    for ch in text:
        deltas.append(stream.push(ord(ch)))
        if stream.stopped:
            break
    deltas.append(stream.finish())
    return [d for d in deltas if d], stream


def test_a_stop_string_across_tokens_is_cut_and_never_shown() -> None:
    deltas, stream = feed("Hello END world", stop=("END",))
    assert stream.stopped and stream.text == "Hello "
    assert "".join(deltas) == "Hello " and not any("E" in d for d in deltas)


def test_a_partial_stop_is_held_back_then_released() -> None:
    stream = TextStream(chars, ("END",))
    assert [stream.push(ord(c)) for c in "abEN"] == ["a", "b", "", ""]
    assert stream.push(ord("x")) == "ENx"


def test_the_earliest_of_several_stops_wins() -> None:
    _, stream = feed("one. two! three", stop=("!", "."))
    assert stream.text == "one"


def test_an_unfinished_character_waits_for_its_next_token() -> None:
    pieces = {1: "ab" + REPLACEMENT, 2: "abé"}
    stream = TextStream(lambda ids: pieces[len(ids)])
    assert stream.push(0) == "ab"
    assert stream.push(0) == "é"


@given(
    st.text(alphabet="abcXY ", max_size=40),
    st.lists(st.text(alphabet="abXY", min_size=1, max_size=3), max_size=3),
)
def test_deltas_always_join_to_the_final_text(text: str, stop: list[str]) -> None:
    deltas, stream = feed(text, stop=tuple(stop))
    assert "".join(deltas) == stream.text
    assert not any(s in stream.text for s in stop)
    assert text.startswith(stream.text)
