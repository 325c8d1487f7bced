"""expected_checks and verify: single tiers, agreement, delegation and conflicts, hand-checked."""

from __future__ import annotations

from metaalign.preferences import Check, ExpectedCheck, expected_checks, failures, verify

from .helpers import pref

SHORT = Check("max_words", {"n": 20})
LONG = Check("min_words", {"n": 150})
CAPS = Check("all_caps", {})
SURE = Check("starts_with", {"phrase": "Sure"})


def test_no_verifiable_preference_expects_nothing() -> None:
    assert expected_checks(None, None) == []
    assert expected_checks(pref("safety"), pref("background")) == []
    assert verify([], "anything")


def test_single_tier() -> None:
    assert expected_checks(pref("length", SHORT), None) == [ExpectedCheck(SHORT, True, "system")]
    assert expected_checks(None, pref("format", CAPS)) == [ExpectedCheck(CAPS, True, "user")]
    assert expected_checks(pref("safety"), pref("format", CAPS)) == [ExpectedCheck(CAPS, True, "user")]


def test_compatible_preferences_are_both_expected() -> None:
    got = expected_checks(pref("length", SHORT), pref("format", CAPS))
    assert got == [ExpectedCheck(SHORT, True, "system"), ExpectedCheck(CAPS, True, "user")]
    assert verify(got, "SURE, SHORT.")
    assert not verify(got, "Sure, short.")
    assert failures(got, "Sure, short.") == [ExpectedCheck(CAPS, True, "user")]


def test_conflict_system_wins_on_length() -> None:
    got = expected_checks(pref("length", SHORT), pref("length", LONG))
    assert got == [ExpectedCheck(SHORT, True, "system"), ExpectedCheck(LONG, False, "user")]
    assert verify(got, "A short answer.")
    assert not verify(got, "word " * 200)


def test_conflict_user_wins_where_system_delegates() -> None:
    got = expected_checks(pref("length", SHORT, delegates=True), pref("length", LONG))
    assert got == [ExpectedCheck(SHORT, False, "system"), ExpectedCheck(LONG, True, "user")]
    assert verify(got, "word " * 200)


def test_delegated_dimension_without_conflict_follows_the_user_alone() -> None:
    """'At most 20 words unless the user says otherwise' + 'at most 100 words': the user's 100 applies."""
    user_limit = Check("max_words", {"n": 100})
    got = expected_checks(pref("length", SHORT, delegates=True), pref("length", user_limit))
    assert got == [ExpectedCheck(user_limit, True, "user")]
    assert verify(got, "word " * 60)


def test_delegation_does_not_drop_the_default_for_another_dimension() -> None:
    got = expected_checks(pref("length", SHORT, delegates=True), pref("format", SURE))
    assert got == [ExpectedCheck(SHORT, True, "system"), ExpectedCheck(SURE, True, "user")]


def test_conflicting_openings_style_system_loses() -> None:
    no = Check("starts_with", {"phrase": "No"})
    got = expected_checks(pref("style", SURE), pref("style", no))
    assert got == [ExpectedCheck(SURE, False, "system"), ExpectedCheck(no, True, "user")]
    assert verify(got, "No — not today.")
    assert not verify(got, "Sure — fine.")
