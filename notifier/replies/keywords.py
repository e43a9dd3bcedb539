"""What a recipient's SMS asks for: to stop or resume texts, help, a numbered option, or
anything else (a question about the parcel). Pure: the text is read, never kept.

A keyword counts only as the whole message, as carriers and Twilio read STOP: "Stop" and
"  stop! " stop texts, "stop sending me the other parcel's texts" is a question. Case,
accents ("annullà"), surrounding spaces and punctuation do not matter.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Ask(StrEnum):
    """What an inbound SMS asks for; its value is the `kind` an inbound row keeps."""

    STOP = "stop"
    START = "start"
    HELP = "help"
    CHOICE = "choice"  # a digit: one of the options the last message numbered
    QUESTION = "status"  # anything else: answered with the latest parcel's status


# English words carriers and Twilio treat as opt-out and opt-in, and their Italian peers.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ANNULLA", "BASTA", "ARRESTA"}
)
START_WORDS = frozenset({"START", "UNSTOP", "INIZIA", "RIATTIVA"})
HELP_WORDS = frozenset({"HELP", "INFO", "AIUTO"})
_WORDS = {
    **dict.fromkeys(STOP_WORDS, Ask.STOP),
    **dict.fromkeys(START_WORDS, Ask.START),
    **dict.fromkeys(HELP_WORDS, Ask.HELP),
}
# Twilio's Advanced Opt-Out names the keyword it matched in `OptOutType`.
_OPT_OUT_TYPES = {"STOP": Ask.STOP, "START": Ask.START, "HELP": Ask.HELP}
# A longer message is no keyword and no option: it need not be looked at character by
# character (an SMS body can be 1,600 characters).
_LONGEST_WORD = 16
# Options are numbered with one digit; "12" is a wrong number, a longer run of digits is
# a question (a tracking number, a phone number).
_MAX_DIGITS = 2


@dataclass(frozen=True, slots=True)
class Reading:
    ask: Ask
    digit: int | None = None  # with Ask.CHOICE
    # Twilio's Advanced Opt-Out matched the keyword and has answered it itself.
    answered_by_twilio: bool = False


def read_reply(body: str, *, opt_out_type: str | None = None) -> Reading:
    """What the message asks for; Twilio's own `OptOutType`, when it sent one, wins."""
    told = _OPT_OUT_TYPES.get((opt_out_type or "").strip().upper())
    if told is not None:
        return Reading(told, answered_by_twilio=True)
    word = bare_word(body)
    if word is None:
        return Reading(Ask.QUESTION)
    if word.isdigit() and word.isascii() and len(word) <= _MAX_DIGITS:
        return Reading(Ask.CHOICE, int(word))
    return Reading(_WORDS.get(word, Ask.QUESTION))


def bare_word(body: str) -> str | None:
    """The message as one upper-case word without accents, surrounding spaces and
    punctuation ("  Annullà! " -> "ANNULLA"); None when it is longer or not one word."""
    if len(body) > 4 * _LONGEST_WORD:
        return None
    # NFKD splits accents off their letters and turns full-width digits into ASCII ones.
    letters = "".join(
        c for c in unicodedata.normalize("NFKD", body) if not unicodedata.combining(c)
    )
    word = letters.strip("".join(c for c in set(letters) if _ignorable(c))).upper()
    if not word or len(word) > _LONGEST_WORD or any(_ignorable(c) for c in word):
        return None
    return word


def _ignorable(char: str) -> bool:
    """Spaces, punctuation and invisible characters (a zero-width space, a direction mark)."""
    return char.isspace() or unicodedata.category(char)[0] in "PZC"
