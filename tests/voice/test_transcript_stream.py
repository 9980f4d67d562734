"""The rule that makes a turn's deltas join to its completed transcript."""

from __future__ import annotations

from unmute_server.voice.transcript_stream import stable_words, transcript_of_record


def test_a_word_is_stable_once_every_recent_hypothesis_starts_with_it() -> None:
    hypotheses = [["hello", "how"], ["hello", "how", "are"], ["hello", "how", "are", "yo"]]
    assert stable_words(hypotheses) == ["hello", "how"]


def test_the_newest_hypothesis_last_word_is_never_stable() -> None:
    assert stable_words([["coffee", "plea"], ["coffee", "plea"]]) == ["coffee"]


def test_a_revised_word_is_not_stable() -> None:
    assert stable_words([["if", "low"], ["fellow", "low"], ["fellow", "low", "x"]]) == []
    assert stable_words([]) == []


def test_a_final_pass_that_extends_what_was_sent_is_the_transcript() -> None:
    assert transcript_of_record("hello how", "hello how are you") == "hello how are you"
    assert transcript_of_record("", "  hello   there ") == "hello there"


def test_words_sent_stand_and_the_final_pass_adds_only_what_follows_them() -> None:
    sent = "if low flow are you today fight"
    final = "hello how are you today i would like a cup of coffee please"
    # "are you today" aligns; "fight" stands for "i"; the rest is added.
    assert transcript_of_record(sent, final) == (
        "if low flow are you today fight would like a cup of coffee please"
    )


def test_with_nothing_in_common_the_final_pass_first_words_stand_for_those_sent() -> None:
    assert transcript_of_record("if", "hello there") == "if there"
    assert transcript_of_record("one two three", "four") == "one two three"
    assert transcript_of_record("if", "") == "if"
