"""One `notifier templates check`: every check, and the override files that nothing reads."""

from __future__ import annotations

from notifier.config import Settings
from notifier.locales import SHIPPED_LANGUAGES
from notifier.rendering.environment import build_environment
from notifier.replies.answer import ANSWER_TEMPLATE
from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.labelcheck import LabelCheck
from notifier.templatecheck.messages import MessageCheck
from notifier.templatecheck.pages import PageCheck
from notifier.templatecheck.slipcheck import SlipCheck
from notifier.templatecheck.sources import TemplateFiles

# Read by code, not through a template that the checks follow: slips/pdf.py, web/app.py,
# and the answers to recipients' texts (replies/answer.py).
READ_BY_CODE = (
    "slips/slip.css",
    "web/notifier.css",
    *(f"sms/{language}/{ANSWER_TEMPLATE}.txt" for language in SHIPPED_LANGUAGES),
)


def check_templates(settings: Settings) -> Report:
    env = build_environment(settings)
    files = TemplateFiles.for_settings(settings)
    report = Report()
    MessageCheck(settings, env, files, report).run()
    PageCheck(settings, env, files, report).run()
    SlipCheck(settings, env, files, report).run()
    LabelCheck(settings, env, files, report).run()
    report.files.update(name for name in READ_BY_CODE if files.find(name) is not None)
    report.extend(unused_overrides(settings, report))
    return report


def unused_overrides(settings: Settings, report: Report) -> list[Finding]:
    """Files in the override directory that no check read: a misspelt name replaces nothing."""
    override = settings.templates.override_dir
    if override is None:
        return []
    found = []
    for path in sorted(p for p in override.rglob("*") if p.is_file()):
        name = path.relative_to(override).as_posix()
        if name not in report.files and not path.name.startswith("."):
            found.append(
                Finding(
                    name,
                    None,
                    None,
                    Severity.WARNING,
                    "in templates.override_dir but read by nothing: "
                    "no rule, page or slip uses this name",
                )
            )
    return found
