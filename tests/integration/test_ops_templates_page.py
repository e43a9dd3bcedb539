"""GET /ops/templates on config.example.toml: every served template in every language, SMS
segments and cost as smstext counts them, an override marked and its text shown inert, an
override's mistake beside its template, sample slips as PDF and ZPL, and the refusals."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.db.engine import make_engine
from notifier.rendering.smstext import sms_encoding
from notifier.site import build_site
from notifier.templatecheck.messages import languages
from notifier.templatecheck.samples import TRACKING
from notifier.templatecheck.served import served_templates
from tests.conftest import TEST_SECRET_KEY
from tests.integration.printing import EXAMPLE, OPS, OPS_PASSWORD, basic, grouped
from tests.pdftools import need_tools, run

pytestmark = pytest.mark.slow  # the page runs the whole templates check: seconds per build

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
OVERRIDES = {
    # Replaces the shipped SMS: marked, its text shown, the markup inert.
    "sms/en/created.txt": "Rapido: parcel {{ tracking_number }} is on its way. " + HOSTILE,
    # A mistake the check reports as an error, beside the delivered template.
    "email/it/delivered.txt": (
        "{% block subject %}Consegnato{% endblock %}\n"
        "{% block body %}Pacco {{ tracking_numbr }} consegnato.{% endblock %}\n"
    ),
    "sms/it/nothing_reads_me.txt": "misspelt name",
}


def example_settings(tmp: Path, **templates: object) -> Settings:
    env = {
        "NOTIFIER_DATABASE_URL": f"sqlite:///{tmp / 'notifier.db'}",
        "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
        "NOTIFIER_OPS_PASSWORD": OPS_PASSWORD,
    }
    settings = load_settings(EXAMPLE, env)
    changed = settings.templates.model_copy(update=templates)
    return settings.model_copy(update={"templates": changed})


def _client(settings: Settings, tmp: Path) -> Iterator[TestClient]:
    engine = make_engine(f"sqlite:///{tmp / 'notifier.db'}")
    with TestClient(build_site(settings, engine=engine)) as client:
        yield client
    engine.dispose()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """config.example.toml as shipped (a price of 0.075 EUR a segment), and its page."""
    tmp = tmp_path_factory.mktemp("shipped")
    settings = example_settings(tmp)
    for client in _client(settings, tmp):
        answer = client.get("/ops/templates", headers=OPS)
        assert answer.status_code == 200, answer.text
        yield client, answer.text


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """The same with an override directory of OVERRIDES and no price."""
    tmp = tmp_path_factory.mktemp("override")
    override = tmp / "templates-local"
    for name, text in OVERRIDES.items():
        (override / name).parent.mkdir(parents=True, exist_ok=True)
        (override / name).write_text(text, encoding="utf-8")
    settings = example_settings(tmp, override_dir=override, sms_price=None)
    for client in _client(settings, tmp):
        yield client, override


def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}".*?</section>', page, re.S)
    assert match, f"no section {anchor}"
    return match.group(0)


def sms_figures(part: str) -> list[tuple[str, dict[str, str]]]:
    """(text as sent, {dt: dd}) of each SMS shown in a piece of the page."""
    found = []
    for figure in re.findall(r"<figure>(.*?)</figure>", part, re.S):
        pre = re.search(r'<pre class="message">(.*?)</pre>', figure, re.S)
        facts = dict(re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", figure, re.S))
        if pre and "Segments" in facts:
            found.append((html.unescape(pre.group(1)), facts))
    return found


def test_every_served_template_in_every_language_appears(
    shipped: tuple[TestClient, str],
) -> None:
    client, page = shipped
    settings: Settings = client.app.state.settings
    served = served_templates(settings)
    assert len(served) >= 10
    for name, what in served.items():
        assert f'<a href="#t-{name}">{name}</a>' in page
        part = section(page, f"t-{name}")
        for language in languages(settings):
            for channel in what.channels:
                assert f'id="t-{name}-{channel}-{language}"' in part
                assert f"<code>{channel}/{language}/{name}.txt</code>" in part
        if "email" in what.channels:
            assert '<iframe class="email" sandbox="" srcdoc="' in part
    assert f"<strong>{len(served)} message templates</strong>" in page
    assert "0 findings" in page
    assert "override:" not in page


def test_an_sms_counts_segments_and_cost_as_smstext_does(shipped: tuple[TestClient, str]) -> None:
    _, page = shipped
    figures = sms_figures(section(page, "t-missed_delivery"))
    assert len(figures) >= 4  # it and en: the usual case, the longest, no name known
    for text, facts in figures:
        encoding = sms_encoding(text)
        assert facts["Segments"].startswith(f"{encoding.segments} of at most 2")
        assert facts["Characters"].startswith(f"{len(text)} ({encoding.length} septets)")
        assert facts["Encoding"].startswith(encoding.encoding)
        cost = Decimal("0.075") * encoding.segments
        assert facts["Cost"] == f"{cost:.3f} EUR a message"
    assert "Rapido Consegne: " in figures[0][0]
    assert "<" not in figures[0][0]


def test_an_override_is_marked_and_its_text_shown_inert(
    overridden: tuple[TestClient, Path],
) -> None:
    client, override = overridden
    answer = client.get("/ops/templates", headers=OPS)
    assert answer.status_code == 200
    page = answer.text
    part = section(page, "t-created")
    assert f"override: {override / 'sms/en/created.txt'}" in part
    ours = [f for f in sms_figures(part) if f[0].startswith("Rapido: parcel")]
    assert ours, part[:3000]
    text, facts = ours[0]
    assert text == f"Rapido: parcel {TRACKING} is on its way. {HOSTILE}"
    assert facts["Cost"] == "price not configured"
    # Shown as text: never a tag of the page, nor of the srcdoc of an email.
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(" in part
    # The Italian SMS and both emails of created stay the shipped ones.
    assert '<code>sms/it/created.txt</code> <span class="badge shipped">shipped</span>' in part
    assert "price not configured: set [templates.sms_price]" in page


def test_an_override_with_a_mistake_shows_the_finding_beside_it(
    overridden: tuple[TestClient, Path],
) -> None:
    client, override = overridden
    page = client.get("/ops/templates", headers=OPS).text
    part = section(page, "t-delivered")
    assert f"override: {override / 'email/it/delivered.txt'}" in part
    finding = re.search(r'<li class="error"><strong>error</strong> (.*?)</li>', part, re.S)
    assert finding, part[:2000]
    assert "email/it/delivered.txt:2" in finding.group(1)
    assert "tracking_numbr" in finding.group(1)
    assert part.count("Not rendered: email/it/delivered.txt:2") == 1  # once, for every sample
    # Not beside the others, and counted at the top and in the jump list.
    assert "tracking_numbr" not in section(page, "t-created")
    assert re.search(r'<a href="#t-delivered">delivered</a> <span class="count error">', page)
    others = section(page, "others")
    assert "sms/it/nothing_reads_me.txt" in others
    assert "read by nothing" in others


def test_an_edited_override_shows_at_once(overridden: tuple[TestClient, Path]) -> None:
    client, override = overridden
    before = client.get("/ops/templates", headers=OPS).text
    assert "override: " + str(override / "sms/en/delivered.txt") not in before
    (override / "sms/en/delivered.txt").write_text("Delivered: {{ tracking_number }}, thanks.")
    after = section(client.get("/ops/templates", headers=OPS).text, "t-delivered")
    assert "override: " + str(override / "sms/en/delivered.txt") in after
    assert f"Delivered: {TRACKING}, thanks." in after


def test_a_sample_slip_is_a_pdf_holding_the_sample_parcel(
    shipped: tuple[TestClient, str], tmp_path: Path
) -> None:
    need_tools()
    client, page = shipped
    links = re.findall(r'<a href="(/ops/templates/slip\.pdf\?[^"]+)"', page)
    assert len(links) >= 12  # three kinds, two languages, several samples each
    for href in (links[0], links[-1]):
        answer = client.get(html.unescape(href), headers=OPS)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        pdf = tmp_path / "slip.pdf"
        pdf.write_bytes(answer.content)
        text = run("pdftotext", pdf, "-")
        assert TRACKING in text or grouped(TRACKING) in text, text
    label = re.search(r'<a href="(/ops/templates/slip\.zpl\?[^"]+)"', page)
    assert label
    zpl = client.get(html.unescape(label.group(1)), headers=OPS)
    assert zpl.status_code == 200
    assert zpl.text.startswith("^XA")
    assert "^XZ" in zpl.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=receipt", "kind"),
        ("locale=de", "locale"),
        ("sample=99", "sample"),
        ("sample=-1", "sample"),
    ],
)
def test_a_bad_sample_slip_names_the_field(
    shipped: tuple[TestClient, str], query: str, field: str
) -> None:
    client, _ = shipped
    answer = client.get(f"/ops/templates/slip.pdf?{query}", headers=OPS)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith(f"{field}: ")


def test_the_page_needs_the_ops_password_and_allows_only_the_emails_styles(
    shipped: tuple[TestClient, str],
) -> None:
    client, _ = shipped
    for path in ("/ops/templates", "/ops/templates/slip.pdf", "/ops/templates/slip.zpl"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=basic("ops", "wrong")).status_code == 401
    answer = client.get("/ops/templates", headers=OPS)
    assert answer.headers["cache-control"] == "no-store"
    policy = answer.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "script-src" not in policy
    assert policy.startswith("default-src 'none'")
    assert "'unsafe-hashes' 'sha256-" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert "<script" not in answer.text.lower()
    assert 'href="http' not in answer.text.split("<main>")[0]  # no external assets
