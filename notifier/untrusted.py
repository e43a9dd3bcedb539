"""Text from outside (carriers' feeds, recipients' forms) made inert before anyone reads it.

No control or format characters: a line break in a sender's name must not start a line
of its own in an SMS, and bidi overrides or zero-width characters must not disguise
what a name says (Unicode TR #36, section 2). No links: whatever looks like a web
address in such text is defanged ("evil[.]example/p"), so neither our HTML nor a phone's
own link detection turns it into something to tap. Only addresses our templates put in
are links.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that break a line, and the tab: each becomes one space.
_SPACES = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")
# Controls (C0, C1), format characters (bidi embeddings, overrides and isolates, LRM and
# RLM, zero-width spaces and joiners, the BOM, soft hyphens) and private-use characters.
_DROPPED = frozenset({"Cc", "Cf", "Co"})
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# Something a reader or a phone would take for a web address: an optional scheme, then
# dot-separated labels (the first of two characters or more, so abbreviations such as
# "v.le" or "S.p.A." stay) ending in a top-level domain of letters, then a path.
_ADDRESS = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://)?\b[\w-]{2,}\.(?:[\w-]+\.)*[a-z]{2,}\b(?:/[^\s]*)?",
    re.IGNORECASE,
)


def clean_line(text: str) -> str:
    """One line of text: breaks and tabs as spaces, controls and format characters gone,
    runs of spaces as one."""
    if text.isascii() and text.isprintable():
        return text  # the common case, checked in C: nothing to remove
    kept = []
    for char in text:
        if char in _SPACES:
            kept.append(" ")
        elif unicodedata.category(char) not in _DROPPED:
            kept.append(char)
    return " ".join("".join(kept).split())


def defang(text: str) -> str:
    """Web addresses in untrusted text made unclickable: 'https://evil.example/p' reads
    'evil[.]example/p'."""
    if "." not in text:
        return text
    return _ADDRESS.sub(_defanged, text)


def _defanged(match: re.Match[str]) -> str:
    return _SCHEME.sub("", match.group(0)).replace(".", "[.]")


def inert(text: str | None) -> str | None:
    """Untrusted text as a message, page or slip may show it: one clean line, no links."""
    if not text:
        return None
    return defang(clean_line(text)) or None
