"""Words of another language in a message: Italian day names in English, English words in Italian.

Small lists of words that are unmistakably one language's (no "set", "ago" or "per",
which English and Italian share), and dates written the other language's way
("lun 2/12" in an English SMS). Names and addresses are taken out first: "Deposito
Milano Nord" in an English message is a place, not Italian.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from jinja2 import Environment
from jinja2.filters import do_truncate

from notifier.rendering.smstext import normalise_sms
from notifier.templatecheck.findings import Finding, Severity
from notifier.templatecheck.sources import SourceText, TemplateFiles

_IT_DAYS = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")
_IT_MONTHS = (
    "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
    "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre",
)  # fmt: skip
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_IT_WORDS = (
    "il", "lo", "gli", "del", "della", "dello", "dei", "delle", "al", "alla", "ai", "nel",
    "nella", "sul", "sulla", "presso", "pacco", "pacchi", "consegna", "consegnato",
    "consegnata", "tentativo", "oggi", "domani", "orari", "fino", "ritiro", "grazie", "scelga",
    "giorno", "luogo", "nuovo", "corriere", "spedizione", "mittente", "destinatario",
    "indirizzo", "avviso", "codice", "chiami", "abbiamo", "potuto", "perché",
)  # fmt: skip
_EN_WORDS = (
    "the", "and", "your", "you", "we", "will", "parcel", "delivery", "delivered", "attempt",
    "today", "tomorrow", "until", "from", "with", "please", "help", "hours", "opening",
    "waiting", "choose", "another", "thank", "could", "not", "been", "has", "have",
)  # fmt: skip
WORDS: dict[str, frozenset[str]] = {
    "it": frozenset((*_IT_DAYS, *(d.replace("ì", "i") for d in _IT_DAYS), *_IT_MONTHS, *_IT_WORDS)),
    "en": frozenset(w.lower() for w in (*_EN_DAYS, *_EN_MONTHS, *_EN_WORDS)),
}
# A day name shortened before a date or in a range: "lun 2/12", "mar 24/11", "lun–ven".
_SHORT_DAYS = {
    "it": ("lun", "mar", "mer", "gio", "ven", "sab", "dom"),
    "en": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
}
_LANGUAGE_NAMES = {"it": "Italian", "en": "English"}


def _short_day(language: str) -> re.Pattern[str]:
    days = "|".join(_SHORT_DAYS[language])
    # Before a day/month date or in a range only: "Mar 24" is also English for 24 March.
    date_or_range = rf"\s+\d{{1,2}}/\d{{1,2}}\b|\s*[–-]\s*(?:{days})\b"
    return re.compile(rf"(?<!\w)({days})\.?(?={date_or_range})", re.I)


_SHORT_DAY = {language: _short_day(language) for language in _SHORT_DAYS}


@dataclass(frozen=True, slots=True)
class ForeignWord:
    word: str  # as written in the message
    language: str  # whose word it is


def name_forms(env: Environment, names: Iterable[str]) -> re.Pattern[str]:
    """Each name as a message may print it: whole, shortened by `truncate`, made GSM-7."""
    forms: set[str] = set()
    for name in names:
        for line in name.split("\n"):
            forms.add(line)
            forms.update(do_truncate(env, line, n) for n in range(8, len(line)))
    forms |= {normalise_sms(f) for f in forms}
    forms.discard("")
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"{alternatives}|\S+://\S+|\S+@\S+")


def foreign_words(text: str, *, language: str, names: re.Pattern[str]) -> list[ForeignWord]:
    """Words in `text` (written in `language`) that belong to another shipped language.

    `names` (from name_forms) matches what is not a word of any language: names,
    addresses, links and email addresses.
    """
    if not _suspect(text, language):
        return []  # the common case: no word to look at twice
    text = names.sub(" ", text)
    found: list[ForeignWord] = []
    for other in WORDS:
        if other == language:
            continue
        for match in _SHORT_DAY[other].finditer(text):
            found.append(ForeignWord(match.group(1), other))
        for word in re.findall(r"[^\W\d_]+", text):
            if word.lower() in WORDS[other] and word.lower() not in WORDS[language]:
                found.append(ForeignWord(word, other))
    return list(dict.fromkeys(found))


def foreign_word_findings(
    text: str,
    *,
    language: str,
    names: re.Pattern[str],
    files: TemplateFiles,
    closure: list[str],
    medium: str,
    sample: str,
) -> list[Finding]:
    """Each foreign word in a rendering, placed in the first of its files that writes it;
    a warning on the rendered file (`closure[0]`) when none does: it came from a variable.

    `medium` says where the words were: "in {} message", "on {} slip" ("an English")."""
    found = []
    for word in foreign_words(text, language=language, names=names):
        what = f"'{word.word}' is {language_name(word.language)} {medium.format(in_a(language))}"
        for name in dict.fromkeys(closure):
            where = SourceText(files.source(name) or "").find_word(word.word)
            if where is not None:
                found.append(Finding(name, *where, Severity.ERROR, what, sample))
                break
        else:
            found.append(
                Finding(
                    closure[0], None, None, Severity.WARNING, f"{what}, from a variable", sample
                )
            )
    return found


def _suspect(text: str, language: str) -> bool:
    """Whether any word of another language appears at all, names included."""
    words = {w.lower() for w in re.findall(r"[^\W\d_]+", text)}
    return any(
        bool((words & WORDS[other]) - WORDS[language]) or _SHORT_DAY[other].search(text)
        for other in WORDS
        if other != language
    )


def language_name(code: str) -> str:
    return _LANGUAGE_NAMES.get(code, code)


def in_a(code: str) -> str:
    """'an English', 'an Italian': the article before a language's name."""
    name = language_name(code)
    return f"{'an' if name[:1] in 'AEIOU' else 'a'} {name}"
