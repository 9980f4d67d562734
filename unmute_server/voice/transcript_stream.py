"""How a turn's live words and its final transcript make one honest stream of deltas.

Clients (kyutai-labs/unmute's frontend, OpenAI's) build the live transcript by joining a turn's
``conversation.item.input_audio_transcription.delta`` events, so a word once sent cannot be taken
back. The rule, the same for every engine:

- while the person speaks, only *stable* words are sent (engines report them; see
  :func:`stable_words` for the embedded engine's test of stability), each delta extending the
  last;
- when the turn ends, the transcript of record is the words already sent followed by the
  final pass's words after them (:func:`transcript_of_record`); its last delta is what that adds.
  Where the final pass heard the words already sent differently, the words sent stand: the
  person has seen them, and the character must hear what the person saw.

So the deltas of a complete turn join to exactly its ``completed`` transcript.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def stable_words(hypotheses: Sequence[Sequence[str]]) -> list[str]:
    """The words every one of ``hypotheses`` (oldest first) starts with, except the newest
    one's last word, which may still be growing (``plea`` before ``please``)."""
    if not hypotheses:
        return []
    newest = hypotheses[-1]
    agreed = list(newest[: max(0, len(newest) - 1)])
    for hypothesis in hypotheses[:-1]:
        same = 0
        for mine, theirs in zip(agreed, hypothesis, strict=False):
            if mine != theirs:
                break
            same += 1
        del agreed[same:]
    return agreed


def transcript_of_record(sent: str, final: str) -> str:
    """``sent`` (the words already sent as deltas) followed by the words of ``final`` that come
    after them.

    ``final`` is aligned on ``sent`` by their longest common runs of words: its words up to the
    end of the last run, and as many more as ``sent`` has words after that run, are taken as
    ``sent``'s; the rest is added. With nothing in common, ``final``'s first words stand for as
    many words as were sent. Whitespace is normalised to single spaces.
    """
    shown, heard = sent.split(), final.split()
    if heard[: len(shown)] == shown:
        return " ".join(heard)
    matcher = difflib.SequenceMatcher(None, shown, heard, autojunk=False)
    runs = [run for run in matcher.get_matching_blocks() if run.size]
    if runs:
        last = runs[-1]
        covered = last.b + last.size + (len(shown) - last.a - last.size)
    else:
        covered = len(shown)
    return " ".join(shown + heard[covered:])
