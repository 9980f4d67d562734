"""Streamed text cut into speakable chunks."""

from __future__ import annotations

from unmute_server.voice.chunker import SentenceChunker, speakable


def chunks_of(deltas: list[str]) -> list[str]:
    chunker = SentenceChunker()
    out: list[str] = []
    for delta in deltas:
        out += chunker.feed(delta)
    return out + chunker.flush()


def test_sentences_are_cut_as_soon_as_they_end_whatever_the_deltas() -> None:
    text = "Hello there. How are you doing today? I am fine! Bye"
    by_word = [word + " " for word in text.split()]
    by_char = list(text)
    expected = ["Hello there.", "How are you doing today?", "I am fine!", "Bye"]
    assert chunks_of(by_word)[:3] == expected[:3]
    assert chunks_of(by_char) == expected
    assert chunks_of([text]) == expected


def test_a_sentence_comes_out_before_the_answer_ends() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("The first sentence is done. The second") == ["The first sentence is done."]
    assert chunker.flush() == ["The second"]


def test_the_first_chunk_is_cut_at_its_first_clause_later_ones_only_when_long() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("Well, I think so, ") == ["Well, I think so,"]
    assert chunker.feed("but then, again, ") == []
    long_clause = "we could talk about the weather and the sea and the sky, "
    assert chunker.feed(long_clause) == [f"but then, again, {long_clause.strip()}"]


def test_a_very_long_run_without_punctuation_is_cut_at_a_space() -> None:
    chunks = chunks_of(["word " * 200])
    assert len(chunks) > 1
    assert all(len(chunk) <= 400 for chunk in chunks)
    assert " ".join(chunks).split() == ["word"] * 200


def test_markdown_an_engine_would_read_out_is_removed() -> None:
    assert speakable("**Bold** and `code` and _this_  here") == "Bold and code and this here"
    assert chunks_of(["***", " ", "\n"]) == []
