"""A rendering error as a finding: the template file, line and column it happened at."""

from __future__ import annotations

import re

from jinja2 import TemplateSyntaxError, UndefinedError

from notifier.errors import TemplateMissingError
from notifier.templatecheck.findings import Finding, Severity
from notifier.templatecheck.sources import SourceText, TemplateFiles

# StrictUndefined's wording: "'x' is undefined", "'dict object' has no attribute 'y'".
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_NO_ATTRIBUTE = re.compile(r"^'([^']+)' has no attribute '([^']+)'$")


def error_finding(exc: Exception, files: TemplateFiles, *, rendering: str, sample: str) -> Finding:
    """Where `exc`, raised while rendering template `rendering`, points in our files."""
    if isinstance(exc, TemplateSyntaxError):
        name = exc.name or (files.name_of(exc.filename) if exc.filename else None) or rendering
        return Finding(name, exc.lineno, None, Severity.ERROR, f"syntax error: {exc.message}")
    if isinstance(exc, TemplateMissingError):
        return Finding(rendering, None, None, Severity.ERROR, str(exc))
    found, line = _innermost_template_frame(exc, files)
    name = found or rendering
    column = None
    if isinstance(exc, UndefinedError):
        message, column = _undefined(str(exc), files.source(name), line)
    else:
        message = f"rendering failed: {type(exc).__name__}: {exc}"
    return Finding(name, line, column, Severity.ERROR, message, sample)


def _innermost_template_frame(
    exc: Exception, files: TemplateFiles
) -> tuple[str | None, int | None]:
    # Jinja rewrites a rendering error's traceback so that each template's frame carries
    # the template's own file name and line number (jinja2.debug.rewrite_traceback_stack).
    # Blocks called directly (render_message renders an email's subject and body blocks
    # so) are not rewritten: their frames run the compiled code, whose line numbers the
    # template maps back to its own (what jinja2.debug does for a rewritten traceback).
    found: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        name = files.name_of(tb.tb_frame.f_code.co_filename)
        if name is not None:
            line = tb.tb_lineno
            compiled = tb.tb_frame.f_globals.get("__jinja_template__")
            if compiled is not None:
                line = compiled.get_corresponding_lineno(line)
            found = (name, line)
        tb = tb.tb_next
    return found


def _undefined(message: str, source: str | None, line: int | None) -> tuple[str, int | None]:
    text = SourceText(source or "")
    if (match := _UNDEFINED_NAME.match(message)) is not None:
        name = match.group(1)
        column = text.column_of(line, name) if line else None
        return f"undefined variable '{name}'", column
    if (match := _NO_ATTRIBUTE.match(message)) is not None:
        owner, attribute = match.groups()
        column = text.column_of(line, attribute, attribute=True) if line else None
        what = "None (an unknown fact: guard it with {% if %})" if owner == "None" else owner
        what = "the imported wording" if "TemplateModule" in owner else what
        return f"undefined attribute '{attribute}' of {what}", column
    return f"undefined: {message}", None
