"""The template check's parts, without the shipped templates: each finds what it should."""

from __future__ import annotations

import pytest
from jinja2 import Environment, StrictUndefined

from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.gsm import SmsLengths, literal_findings
from notifier.templatecheck.htmlcheck import html_findings, html_problems
from notifier.templatecheck.language import foreign_words, name_forms
from notifier.templatecheck.names import check_names, shape_of
from notifier.templatecheck.slipread import read_slips
from notifier.templatecheck.sources import SourceText

ENV = Environment(undefined=StrictUndefined, lstrip_blocks=True)
NAMES = name_forms(ENV, ["Deposito Milano Nord", "Libreria Sant'Orsola di Giovanni e Figli"])


def test_a_finding_names_file_line_and_column_and_leaves_out_what_it_lacks() -> None:
    assert (
        str(Finding("sms/en/x.txt", 3, 7, Severity.ERROR, "bad")) == "sms/en/x.txt:3:7: error: bad"
    )
    assert str(Finding("slips/slip.html", None, None, Severity.ERROR, "small", "it, -")) == (
        "slips/slip.html: error: small (sample: it, -)"
    )


def test_the_report_says_a_problem_once_however_many_samples_meet_it() -> None:
    report = Report()
    for sample in ("a", "b"):
        report.add(Finding("x.txt", 1, 1, Severity.ERROR, "undefined variable 'y'", sample))
    report.add(Finding("x.txt", None, None, Severity.INFO, "2 segments"))
    assert report.lines() == ["x.txt:1:1: error: undefined variable 'y' (sample: a)"]
    assert len(report.lines(verbose=True)) == 2
    assert report.failed


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<div><p>a</div></div>", "</div> closes nothing"),
        ("<main><div>a</main>", "<div> is still open at </main>"),
        ("<section><span>a</section>", "<span> is still open at </section>"),
        ("<div>a", "<div> is never closed"),
        ("<p>a<br></br></p>", "a void element has no end tag"),
        ("<div/>", "<div/> does not close in HTML"),
        ('<input id="a" id="b">', "repeats id="),
    ],
    ids=[
        "stray-end", "open-at-parent-end", "inline-open", "never-closed", "void-end",
        "self-closing-div", "duplicate-attribute",
    ],
)  # fmt: skip
def test_html_that_does_not_parse_is_named(html: str, expected: str) -> None:
    problems = html_problems(html)
    assert any(expected in p.message for p in problems), problems


def test_optional_end_tags_and_void_elements_are_html() -> None:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>t</title>"
        "<body><ul><li>one<li>two</ul><p>para<div>block</div><dl><dt>a<dd>b</dl>"
        "<p>x<br>y<img src=a alt=b></p></body></html>"
    )
    assert html_problems(html) == []


def test_an_html_problem_is_placed_at_the_tag_in_the_template_that_wrote_it() -> None:
    source = "<div>\n{% for x in xs %}\n  <p>{{ x }}</span>\n{% endfor %}\n</div>\n"
    rendered = ENV.from_string(source).render(xs=["a"])
    [finding] = html_findings(rendered, [("web/x.html", source)], sample="s")
    assert (finding.path, finding.line, finding.column) == ("web/x.html", 3, 13)
    assert "</span> closes nothing" in finding.message


def test_a_tag_written_in_several_places_is_placed_by_the_text_around_it() -> None:
    source = (
        "<dl>\n{% if a %}<dt>A</dt><dd>{{ a }}</dd>{% endif %}\n"
        "  <dt>B</dt><dd>{{ b }}</dd>\n  </dd>\n</section>\n"
    )
    rendered = ENV.from_string(source).render(a=None, b="x")
    found = html_findings(rendered, [("web/_p.html", source)], sample="s")
    assert [(f.line, f.column) for f in found if "</dd> closes nothing" in f.message] == [(4, 3)]


def test_a_rendering_failing_where_the_tree_showed_an_undefined_name_is_said_once() -> None:
    report = Report()
    report.add(Finding("x.txt", 2, 5, Severity.ERROR, "undefined attribute 'b' of 'c'"))
    report.add(Finding("x.txt", 2, 5, Severity.ERROR, "undefined attribute 'b' of dict", "s1"))
    report.add(Finding("x.txt", 2, 5, Severity.ERROR, "undefined attribute 'b' of 't' in it"))
    assert len(report.findings) == 2


@pytest.mark.parametrize(
    ("text", "language", "words"),
    [
        ("Parcel RP12 arrives lun 2/12, 10:00-14:00.", "en", ["lun"]),
        ("Help Mon-Fri 08:00-20:00 and lun–ven too", "en", ["lun"]),
        ("We will try again on martedì 24 novembre.", "en", ["martedì", "novembre"]),
        ("Il pacco arriva Tue 24/11.", "it", ["Tue"]),
        ("Nuovo tentativo: the parcel is late", "it", ["the", "parcel"]),
        ("Your parcel is waiting at Deposito Milano Nord.", "en", []),
        ("From Libreria Sant'Orsola di Giovanni e... today", "en", []),
        ("Mar 24 we will call you about the parcel", "en", []),
        ("Link: https://rapido.example/r/il-pacco-del-giorno", "en", []),
    ],
    ids=[
        "it-short-day", "it-day-range", "it-day", "en-short-day", "en-words", "place-name",
        "truncated-name", "english-march", "link",
    ],
)  # fmt: skip
def test_words_of_another_language_are_found_and_names_are_not(
    text: str, language: str, words: list[str]
) -> None:
    found = foreign_words(text, language=language, names=NAMES)
    assert [w.word for w in found] == words


def test_characters_outside_gsm7_are_placed_in_the_sms_template() -> None:
    source = '{# l’apostrofo #}Ciao\nil pacco’s {{ name or "l’ora" }} — fine'
    found = literal_findings(ENV, "sms/it/x.txt", source=source)
    assert [(f.line, f.column) for f in found] == [(2, 9), (2, 25), (2, 34)]
    assert "U+2019 RIGHT SINGLE QUOTATION MARK" in found[0].message
    assert "U+2014 EM DASH" in found[2].message


def test_letters_gsm7_has_are_not_reported() -> None:
    assert literal_findings(ENV, "sms/it/x.txt", source="Niccolò è già lì: perché? ÄÖÑÜ €") == []


def test_an_sms_over_the_segment_limit_is_an_error_and_ucs2_a_warning() -> None:
    lengths = SmsLengths("sms/en/x.txt")
    lengths.add("a" * 160, sample="short", max_segments=2)
    lengths.add("b" * 307, sample="long", max_segments=2)
    lengths.add("Привет", sample="cyrillic", max_segments=2)
    found = lengths.findings(2)
    errors = [f for f in found if f.severity == Severity.ERROR]
    assert len(errors) == 1
    assert "1 of 3 renderings need more than templates.sms_max_segments = 2" in errors[0].message
    assert "3 segments, 307 septets ('long')" in errors[0].message
    warnings = [f.message for f in found if f.severity == Severity.WARNING]
    assert any("U+041F CYRILLIC CAPITAL LETTER PE" in w for w in warnings)


KNOWN = {"company": shape_of({"name": "R", "phone": "1"}), "pickup_point": {"name": None}}


def test_a_name_no_context_provides_is_found_in_a_branch_no_sample_takes() -> None:
    source = "{{ company.name }}\n{% if false %}  {{ delivery_note }}{% endif %}"
    [finding] = check_names(ENV, "sms/en/x.txt", source=source, known=KNOWN)
    assert (finding.line, finding.column, finding.message) == (
        2,
        20,
        "undefined variable 'delivery_note'",
    )


def test_an_attribute_no_sample_value_has_is_found() -> None:
    source = "{{ company.name }} {{ company.items() }}\n{{ pickup_point.nmae }}"
    [finding] = check_names(ENV, "sms/en/x.txt", source=source, known=KNOWN)
    assert (finding.line, finding.column) == (2, 17)
    assert finding.message == "undefined attribute 'nmae' of 'pickup_point'"


def test_names_the_template_sets_itself_are_not_undefined() -> None:
    source = (
        "{% macro m(c) %}{{ c.name }}{% endmacro %}{% set x = 1 %}"
        "{% for p in [1] %}{{ p }}{{ loop.index }}{% endfor %}"
        "{% if x %}{% set y = 2 %}{{ y }}{% endif %}"
        "{{ m(company) }}{{ range(2) | list }}"
    )
    assert check_names(ENV, "x.txt", source=source, known=KNOWN) == []


def test_a_wording_name_missing_in_one_language_is_found() -> None:
    source = '{% import "web/" ~ lang ~ ".html" as t %}{{ t.title }} {{ t.subtitle }}'
    aliases = {
        "t": [("web/it.html", {"title": None, "subtitle": None}), ("web/en.html", {"title": None})]
    }
    [finding] = check_names(ENV, "web/p.html", source=source, known={"lang": None}, aliases=aliases)
    assert finding.message == "undefined attribute 'subtitle' of 't' in web/en.html"


def test_positions_count_lines_and_columns_from_one() -> None:
    text = SourceText("ab\ncd {{ x }}\n")
    assert text.position(0) == (1, 1)
    assert text.position(6) == (2, 4)
    assert text.column_of(2, "x") == 7
    assert text.find_word("cd") == (2, 1)
    assert SourceText("{{ cd }} cd").find_word("cd") == (1, 10)


def test_a_slips_document_is_read_slip_by_slip_in_each_blocks_language() -> None:
    html = (
        '<html lang="it"><head><title>Rapido</title><style>/* the sizes */</style></head>'
        '<body><section id="slip-0"><div lang="it"><p>Il pacco<p class="key">oggi</div>'
        '<div lang="en"><p>The parcel<br>today</div></section>'
        '<section id="slip-1"><div lang="it"><p>Domani</p></div></section></body></html>'
    )
    read = read_slips(html)
    assert read.texts == {
        (0, "it"): "Il pacco oggi",
        (0, "en"): "The parcel today",
        (1, "it"): "Domani",
    }
    assert len(read.outlines) == 2
    # Ids differ from slip to slip, the CSS sees the same: one outline.
    again = read_slips(html.replace('id="slip-1"', 'id="slip-7"').replace("Domani", "Dopodomani"))
    assert again.outlines == read.outlines
