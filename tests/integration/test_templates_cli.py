"""`notifier templates check` and `preview`: the commands as ops run them, on the shipped
templates and on an override directory with one mistake each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from notifier import paths
from notifier.cli import app
from notifier.config.loading import load_settings
from notifier.rendering.environment import build_environment
from notifier.rendering.smstext import sms_encoding
from notifier.templatecheck.findings import Report
from notifier.templatecheck.labelcheck import LabelCheck
from notifier.templatecheck.messages import languages
from notifier.templatecheck.slipsamples import missed_batch
from notifier.templatecheck.sources import TemplateFiles

pytestmark = pytest.mark.slow  # each check renders every template: a few seconds

runner = CliRunner()
CONFIG = paths.example_config()
SHIPPED = paths.templates_dir()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def config_with(tmp_path: Path, overrides: dict[str, str], **templates: object) -> Path:
    """The example configuration with an override directory holding these files."""
    for name, text in overrides.items():
        path = tmp_path / "overrides" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "overrides").mkdir(exist_ok=True)
    text = CONFIG.read_text(encoding="utf-8")
    text = text.replace('# override_dir = "templates-local"\n', 'override_dir = "overrides"\n')
    for key, value in templates.items():  # keys of [templates] the example sets
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value!r}", text, flags=re.M)
        assert count == 1, key
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def position(text: str, needle: str) -> str:
    """'line:column' (1-based) of the first `needle` in `text`."""
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def shipped(name: str) -> str:
    return (SHIPPED / name).read_text(encoding="utf-8")


def errors(out: str) -> list[str]:
    return [line for line in out.splitlines() if ": error: " in line]


def test_the_shipped_templates_pass_with_the_example_configuration() -> None:
    code, out, _ = invoke("templates", "check", "--config", str(CONFIG), "--verbose")
    assert code == 0, out
    assert errors(out) == []
    summary = out.splitlines()[-1]
    assert re.search(r"\d+ template files, \d{4,} renderings: 0 errors", summary), summary
    # --verbose lists every SMS template of both languages with its encoding and segments.
    for language in ("it", "en"):
        assert re.search(
            rf"^sms/{language}/missed_delivery\.txt: info: GSM-7, [12] segment", out, re.M
        )


UNDEFINED = (
    "{{ company.name }}: parcel {{ tracking_grouped }} delivered."
    "{% if not today %} {{ delivery_note }}{% endif %} Help {{ company.phone }}\n"
)
CURLY = (
    "{{ company.name }}: il pacco {{ tracking_grouped }}. Per l’assistenza {{ company.phone }}\n"
)
ITALIAN_DAY = (
    "{{ company.name }}: parcel {{ tracking_grouped }} arrives lun 2/12. Help {{ company.phone }}\n"
)
LONG = "{{ company.name }}: parcel {{ tracking_grouped }} is going back to the sender. " + (
    "Please call us about it before it leaves. " * 7
) + "Help {{ company.phone }}\n"  # fmt: skip
BROKEN_HTML = shipped("email/base.html").replace("<h1 style", "<h1><span style", 1)
ROUTE_UNDEFINED = shipped("slips/en/_route.html").replace(
    "deliver your parcel, but:", "deliver your parcel {{ nope.x }}, but:"
)
FINAL_UNDEFINED = shipped("slips/it/_final.html").replace(
    "tornerà al mittente.", "tornerà al {{ mittente_nome }}."
)
# Only a rendering finds it: pickup_point is a place on some notices and None on others.
FINAL_UNGUARDED = shipped("slips/en/_final.html").replace(
    "{% set p = c.waiting_at %}", "{% set p = c.waiting_at %}{{ c.pickup_point.name }}"
)
FINAL_ITALIAN = shipped("slips/en/_final.html").replace("Last notice:", "Ultimo avviso:")
RATING_UNDEFINED = shipped("web/feedback/question.html").replace(
    "{{ tracking_grouped }}", "{{ tracking_code }}"
)
RATING_ITALIAN = shipped("web/feedback/en.html").replace(
    '"Thank you for your answer"', '"Grazie for your answer"'
)


MISTAKES = {
    "undefined-variable": (
        "sms/en/delivered.txt", UNDEFINED, "delivery_note", "undefined variable 'delivery_note'"
    ),
    "typographic-apostrophe": (
        "sms/it/created.txt", CURLY, "’", "'’' U+2019 RIGHT SINGLE QUOTATION MARK is not GSM-7"
    ),
    "html-does-not-parse": (
        "email/base.html", BROKEN_HTML, "<span style", "HTML: <span> is still open at </h1>"
    ),
    "italian-day-in-english": (
        "sms/en/out_for_delivery.txt", ITALIAN_DAY, "lun 2/12", "'lun' is Italian in an English"
    ),
    "too-long": (
        "sms/en/returning.txt", LONG, "{{", "need more than templates.sms_max_segments = 2"
    ),
    "route-slip-undefined-variable": (
        "slips/en/_route.html", ROUTE_UNDEFINED, "nope", "undefined variable 'nope'"
    ),
    "final-notice-undefined-variable": (
        "slips/it/_final.html", FINAL_UNDEFINED, "mittente_nome",
        "undefined variable 'mittente_nome'",
    ),
    "final-notice-unguarded-place": (
        "slips/en/_final.html", FINAL_UNGUARDED, "name }}",
        "undefined attribute 'name' of None (an unknown fact: guard it with {% if %}) "
        "(sample: en, final, held at depot MI01)",
    ),
    "italian-word-on-an-english-final-notice": (
        "slips/en/_final.html", FINAL_ITALIAN, "avviso", "'avviso' is Italian on an English slip"
    ),
    "rating-page-undefined-variable": (
        "web/feedback/question.html", RATING_UNDEFINED, "tracking_code",
        "undefined variable 'tracking_code'",
    ),
    "italian-word-on-an-english-rating-page": (
        "web/feedback/en.html", RATING_ITALIAN, "Grazie", "'Grazie' is Italian on an English page"
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "where", "message"), list(MISTAKES.values()), ids=list(MISTAKES)
)
def test_an_override_with_a_mistake_fails_with_its_file_line_and_column(
    tmp_path: Path, name: str, text: str, where: str, message: str
) -> None:
    config = config_with(tmp_path, {name: text})
    code, out, _ = invoke("templates", "check", "--config", str(config))
    assert code == 1, out
    expected = f"{name}:{position(text, where)}: error: "
    assert errors(out), out
    assert all(line.startswith(expected) for line in errors(out)), out
    assert message in errors(out)[0]
    assert "override directory" in out.splitlines()[-1]


def test_the_segment_limit_is_the_configured_one(tmp_path: Path) -> None:
    septets = sms_encoding(LONG).length
    assert 306 < septets <= 459  # three segments, with the company and tracking number
    config = config_with(tmp_path, {"sms/en/returning.txt": LONG}, sms_max_segments=3)
    code, out, _ = invoke("templates", "check", "--config", str(config))
    assert code == 0, out


def test_an_override_nothing_reads_is_a_warning_not_an_error(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"sms/en/missed_deliveyr.txt": "x"})
    code, out, _ = invoke("templates", "check", "--config", str(config))
    assert code == 0, out
    assert (
        "sms/en/missed_deliveyr.txt: warning: in templates.override_dir but read by nothing" in out
    )


def test_an_override_of_a_route_slip_a_final_notice_or_a_rating_page_is_read_and_rendered(
    tmp_path: Path,
) -> None:
    names = (
        "slips/it/_route.html",
        "slips/en/_final.html",
        "web/feedback/thanks.html",
        "web/feedback/it.html",
    )
    config = config_with(tmp_path, {name: shipped(name) for name in names})
    code, out, _ = invoke("templates", "check", "--config", str(config))
    assert code == 0, out
    assert "read by nothing" not in out


def test_a_route_slip_set_below_the_legibility_floor_is_an_error(tmp_path: Path) -> None:
    css = shipped("slips/slip.css") + "\n.slip-route .key { font-size: 10pt; }\n"
    config = config_with(tmp_path, {"slips/slip.css": css})
    code, out, _ = invoke("templates", "check", "--config", str(config))
    assert code == 1, out
    assert errors(out) == [
        "slips/slip.html: error: text is set below the legibility floor: key facts at 10 pt, "
        "below the 14 pt floor (slips/slip.css sets the sizes) "
        "(sample: it, route, out for delivery)"
    ]


def renderings(config: Path) -> int:
    code, out, _ = invoke("templates", "check", "--config", str(config))
    assert code == 0, out
    found = re.search(r"(\d+) renderings: 0 errors, 0 warnings", out.splitlines()[-1])
    assert found, out
    return int(found.group(1))


def test_each_missed_delivery_sample_is_a_label_on_each_configured_printer(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    text = CONFIG.read_text(encoding="utf-8")
    own = 'code = "MI01"\nlabel_printer = { width_mm = 48, dpi = 300 }\n'
    config.write_text(text.replace('code = "MI01"\n', own, 1), encoding="utf-8")
    settings = load_settings(CONFIG, {})
    labels = sum(len(missed_batch(settings, lang).slips) for lang in languages(settings))
    assert labels > 100  # every reason with every next step, in both languages
    assert renderings(config) == renderings(CONFIG) + labels


def test_a_label_that_does_not_render_is_placed_in_the_wording_it_read(tmp_path: Path) -> None:
    name = "slips/en/_text.html"
    text = shipped(name).replace(
        "{% macro tracking_label() %}Tracking", "{% macro tracking_label() %}{{ nope.x }}"
    )
    settings = load_settings(config_with(tmp_path, {name: text}), {})
    report = Report()
    env = build_environment(settings)
    LabelCheck(settings, env, TemplateFiles.for_settings(settings), report).run()
    assert report.failed
    [finding] = {str(f).split(" (sample: ")[0] for f in report.findings}
    assert finding == f"{name}:{position(text, 'nope')}: error: undefined variable 'nope'"
    assert report.findings[0].sample == "en, -, next attempt known, label 72 mm at 203 dpi"


def test_preview_prints_an_sms_with_its_encoding_and_segments() -> None:
    code, out, err = invoke(
        "templates", "preview", "missed_delivery", "--locale", "it-IT", "--config", str(CONFIG)
    )
    assert code == 0, err
    text, summary = out.rstrip("\n").rsplit("\n", 1)
    assert text.startswith("Rapido Consegne: ")
    assert "pacco RP00 4518 972IT" in text
    encoding = sms_encoding(text)
    assert summary == f"-- GSM-7, {encoding.segments} segments ({encoding.length} septets)"
    assert "sms/it/missed_delivery.txt" in err


def test_preview_writes_an_emails_html_part_and_prints_its_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(
        "templates", "preview", "missed_delivery", "--locale", "en", "--channel", "email",
        "--reason", "WEATHER", "--config", str(CONFIG),
    )  # fmt: skip
    assert code == 0, err
    written = tmp_path / "missed_delivery.en.html"
    assert out.startswith("Subject: ")
    assert "bad weather stopped the delivery" in out
    assert f"-- HTML part written to {written}" in out
    html = written.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "bad weather stopped the delivery" in html


def test_preview_writes_a_slip_as_pdf(tmp_path: Path) -> None:
    output = tmp_path / "slip.pdf"
    code, out, err = invoke(
        "templates", "preview", "slip", "--locale", "it", "--variant", "held at PP-MI-12",
        "-o", str(output), "--config", str(CONFIG),
    )  # fmt: skip
    assert code == 0, err
    assert output.read_bytes().startswith(b"%PDF-")
    assert f"written to {output}" in out
    assert "held at PP-MI-12" in out


def test_preview_of_a_broken_override_names_the_place(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"sms/en/delivered.txt": UNDEFINED})
    code, _, err = invoke(
        "templates", "preview", "delivered", "--locale", "en", "--variant", "next morning",
        "--config", str(config),
    )  # fmt: skip
    assert code == 1
    assert f"sms/en/delivered.txt:{position(UNDEFINED, 'delivery_note')}: error: undefined" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["no_such_template"], "is no message template's name"),
        (["dispute_forward"], "is not sent by sms: only by email"),
        (["delivered", "--variant", "on the moon"], "no sample matches"),
        (["delivered", "--reason", "LOST"], "--reason must be one of"),
    ],
    ids=["unknown-name", "wrong-channel", "unknown-variant", "unknown-reason"],
)
def test_preview_refuses_what_it_cannot_show(args: list[str], said: str) -> None:
    code, _, err = invoke("templates", "preview", *args, "--config", str(CONFIG))
    assert code == 2
    assert said in err
