"""Paraphrased training phrasings: framed per tier, train split only, checks unchanged, seeded."""

from __future__ import annotations

from metaalign.preferences import load_library
from metaalign.preferences.paraphrase import framed, frames, with_paraphrases


def test_framed_lowercases_only_a_sentence_start() -> None:
    assert framed("Answer in all capitals.", "Rule: {lower}") == "Rule: answer in all capitals."
    assert framed("JSON only, please.", "Rule: {lower}") == "Rule: JSON only, please."  # an acronym stays
    assert framed("Use bullets.", "{text} Thanks!") == "Use bullets. Thanks!"


def test_variants_keep_check_and_split_and_take_one_tier() -> None:
    library = load_library()
    more = with_paraphrases(library, 2, seed=0)
    base = {p.id: p for p in library.all}
    extra = [p for p in more.all if p.id not in base]
    firm = [p for p in library.all if p.split == "train" and p.check is not None and not p.delegates]
    assert len(extra) == 2 * sum(len(p.tiers) for p in firm)
    for p in extra:
        source = base[p.id.split("~")[0]]
        assert p.check == source.check and p.split == "train" and not source.delegates
        assert len(p.tiers) == 1 and p.tiers[0] in source.tiers and p.text != source.text
        assert any(framed(source.text, f) == p.text for f in frames()[p.tiers[0]])
    assert not any(p.split == "test" for p in extra)  # held-out phrasings stay unseen
    assert [p.text for p in with_paraphrases(library, 2, seed=0).all] == [p.text for p in more.all]
    assert with_paraphrases(library, 0) is library
