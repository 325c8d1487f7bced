"""Hypothesis strategies for checks and texts, shared by the preference tests."""

from __future__ import annotations

from hypothesis import strategies as st

from metaalign.preferences import CHECKERS, Check, load_library

WORDS = st.sampled_from(
    ["climate", "budget", "python", "garden", "risk", "ocean", "privacy", "sleep", "history", "coffee"]
)
PHRASES = st.sampled_from(
    ["Sure", "Great question", "Hello!", "In short:", "Thank you.", "Hope this helps.", "Best regards",
     "Let me know if you have questions?", "¿Qué tal?", "Short answer", "Cheers"]
)  # fmt: skip

_PARAMS = {
    "max_words": st.fixed_dictionaries({"n": st.integers(10, 200)}),
    "min_words": st.fixed_dictionaries({"n": st.integers(1, 150)}),
    "max_sentences": st.fixed_dictionaries({"n": st.integers(1, 12)}),
    "max_chars": st.fixed_dictionaries({"n": st.integers(40, 1500)}),
    "bullet_list": st.fixed_dictionaries({"n": st.integers(1, 6)}),
    "numbered_list": st.fixed_dictionaries({"n": st.integers(1, 6)}),
    "paragraphs": st.fixed_dictionaries({"n": st.integers(1, 5)}),
    "placeholders": st.fixed_dictionaries({"n": st.integers(1, 4)}),
    "highlighted": st.fixed_dictionaries({"n": st.integers(1, 4)}),
    "starts_with": st.fixed_dictionaries({"phrase": PHRASES}),
    "ends_with": st.fixed_dictionaries({"phrase": PHRASES}),
    "includes_keywords": st.fixed_dictionaries(
        {"words": st.lists(WORDS, min_size=1, max_size=3, unique=True)}
    ),
    "excludes_keywords": st.fixed_dictionaries(
        {"words": st.lists(WORDS, min_size=1, max_size=3, unique=True)}
    ),
}


@st.composite
def checks(draw: st.DrawFn, ids: list[str] | None = None) -> Check:
    checker_id = draw(st.sampled_from(sorted(ids or CHECKERS)))
    params = draw(_PARAMS.get(checker_id, st.just({})))
    return Check(checker_id, params)


PROSE = st.lists(
    st.sampled_from(
        ["The sky is blue.", "Water boils at 100 degrees!", "Is it safe?", "- a bullet item", "1. first step",
         "Climate matters, and so does budget.", "Ünïcödé wörds here.", "<<A Title>>", "P.S. more", "*note*",
         "\n", "\n\n", "  ", "Straße ﬁne", '"quoted"', '{"a": 1}', "[name]", "", "42", "ok", "Hello world"]
    ),
    max_size=12,
).map(" ".join)  # fmt: skip

TEXTS = st.one_of(st.text(max_size=300), PROSE, st.just(""))

LONG_PROSE = st.lists(
    st.sampled_from(
        ["The first point is simple.", "Second, costs rise over time!", "What about risk?",
         "Ocean levels 3 m.",
         "A much longer sentence that keeps going with many ordinary words to make the answer long enough.",
         "\n\n", "\n", "- a list item", "2) another item", "«Guillemets» and “curly” quotes."]
    ),
    min_size=5,
    max_size=40,
).map(" ".join)  # fmt: skip

LIBRARY_CHECKS = st.sampled_from(
    sorted({p.check for p in load_library() if p.check is not None}, key=lambda c: (c.id, repr(c)))
)
ANY_CHECK = st.one_of(checks(), LIBRARY_CHECKS)
