"""Template files as the environment finds them (override directory first), positions in them."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from jinja2 import Environment, TemplateSyntaxError, meta

from notifier import paths
from notifier.config import Settings


class TemplateFiles:
    """Where each template name is read from: the first root that has the file.

    Read once, like the environment reads them: a check renders thousands of times.
    """

    def __init__(self, roots: tuple[Path, ...]) -> None:
        self.roots = roots
        self._sources: dict[str, str | None] = {}
        self._closures: dict[str, list[str]] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> TemplateFiles:
        override = settings.templates.override_dir
        found = [override] if override is not None else []
        return cls((*found, paths.templates_dir()))

    def find(self, name: str) -> Path | None:
        for root in self.roots:
            path = root / name
            if path.is_file():
                return path
        return None

    def source(self, name: str) -> str | None:
        if name not in self._sources:
            path = self.find(name)
            self._sources[name] = None if path is None else path.read_text(encoding="utf-8")
        return self._sources[name]

    def name_of(self, filename: str) -> str | None:
        """The template name of a file Jinja loaded (an absolute path), if it is one of ours."""
        path = Path(filename).resolve()
        for root in self.roots:
            if path.is_relative_to(root.resolve()):
                return path.relative_to(root.resolve()).as_posix()
        return None

    def closure(self, env: Environment, name: str) -> list[str]:
        """The template and every file it includes, imports or extends by a constant name."""
        if name not in self._closures:
            self._closures[name] = self._walk(env, name)
        return self._closures[name]

    def _walk(self, env: Environment, name: str) -> list[str]:
        seen: list[str] = []
        pending = [name]
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.append(current)
            source = self.source(current)
            if source is None:
                continue
            try:
                referenced = meta.find_referenced_templates(env.parse(source))
            except TemplateSyntaxError:
                continue
            pending.extend(r for r in referenced if r is not None)
        return seen


class SourceText:
    """A template's source with offsets turned into 1-based lines and columns."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @cached_property
    def _starts(self) -> list[int]:
        starts, offset = [], 0
        for line in self.lines:
            starts.append(offset)
            offset += len(line) + 1
        return starts

    def position(self, offset: int) -> tuple[int, int]:
        line = max(i for i, start in enumerate(self._starts) if start <= offset)
        return line + 1, offset - self._starts[line] + 1

    def column_of(self, line: int, needle: str, *, attribute: bool = False) -> int | None:
        """Where a variable (or, with `attribute`, `.needle`) is used on a line, 1-based."""
        if not 0 < line <= len(self.lines):
            return None
        text = self.lines[line - 1]
        word = re.escape(needle)
        pattern = rf"\.\s*({word})\b" if attribute else rf"(?<![\w.])({word})\b"
        match = re.search(pattern, text)
        if match is None and attribute:
            match = re.search(rf"\[\s*['\"]({word})['\"]\s*\]", text)
        if match is None:
            match = re.search(rf"\b({word})\b", text)
        return match.start(1) + 1 if match else None

    def find_word(self, word: str) -> tuple[int, int] | None:
        """The first place a word is written as text (not inside a tag's names)."""
        for match in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", self.text, re.I):
            if not _inside_code(self.text, match.start()):
                return self.position(match.start())
        return None


def _inside_code(text: str, offset: int) -> bool:
    """Inside {{ }}, {% %} or {# #}, and not in a quoted string there."""
    opened = max(
        text.rfind("{{", 0, offset), text.rfind("{%", 0, offset), text.rfind("{#", 0, offset)
    )
    if opened < 0:
        return False
    closed = max(
        text.rfind("}}", 0, offset), text.rfind("%}", 0, offset), text.rfind("#}", 0, offset)
    )
    if closed > opened:
        return False
    if text.startswith("{#", opened):
        return True  # a comment: its apostrophes ("a route pack's slip") quote nothing
    code = text[opened:offset]
    return code.count('"') % 2 == 0 and code.count("'") % 2 == 0
