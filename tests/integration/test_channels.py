"""Channels against real servers: aiosmtpd, Prism serving Twilio's spec, our fake Twilio."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
from twilio.http.http_client import TwilioHttpClient

from notifier.channels.base import OutgoingMessage, ProviderStatus
from notifier.channels.email_smtp import SmtpEmailChannel
from notifier.channels.sms_twilio import BaseUrlHttpClient, TwilioSmsChannel, build_twilio_client
from notifier.errors import PermanentChannelError, TemporaryChannelError
from tests.providers import FakeTwilio, RedirectingHttpClient, SmtpServer, free_port

SID, TOKEN = "AC" + "1" * 32, "token-for-tests"
SMS = OutgoingMessage(
    outbox_id=42, channel="sms", recipient="+393331234567", body="Pacco in arrivo", locale="it"
)
EMAIL = OutgoingMessage(
    outbox_id=7,
    channel="email",
    recipient="giovanni@example.it",
    body="Il Suo pacco RP12 3456 789IT è stato consegnato.",
    locale="it",
    subject="Il Suo pacco è stato consegnato",
    body_html="<p>Il Suo pacco <b>RP12 3456 789IT</b> è stato consegnato.</p>",
    unsubscribe_url="https://notifier.rapido.example/unsubscribe/7",
)


def smtp_channel(port: int) -> SmtpEmailChannel:
    def connect() -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", port, timeout=5)

    return SmtpEmailChannel(
        connect,
        from_address="avvisi@rapido.example",
        from_name="Società Rapido Consegne",
        message_id_domain="rapido.example",
    )


def twilio_channel(
    base_url: str, *, service: bool = False
) -> tuple[TwilioSmsChannel, RedirectingHttpClient]:
    http = RedirectingHttpClient(base_url)
    channel = TwilioSmsChannel(
        client=build_twilio_client(SID, TOKEN, http),
        from_number=None if service else "+390212345678",
        messaging_service_sid=("MG" + "a" * 32) if service else None,
        status_callback_url=lambda outbox_id: (
            f"https://notifier.rapido.example/webhooks/twilio/status/{outbox_id}"
        ),
    )
    return channel, http


def test_an_email_arrives_with_both_parts_and_the_sender_headers(smtp_server: SmtpServer) -> None:
    result = smtp_channel(smtp_server.port).send(EMAIL)
    (received,) = smtp_server.received
    assert received["Subject"] == EMAIL.subject
    assert received["To"] == "giovanni@example.it"
    assert "Società Rapido Consegne" in str(received["From"])
    assert received["Message-ID"] == result.provider_id
    assert received["Date"]
    assert received["List-Unsubscribe"] == "<https://notifier.rapido.example/unsubscribe/7>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Auto-Submitted"] == "auto-generated"
    plain = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert plain is not None
    assert "RP12 3456 789IT" in plain.get_content()
    assert html is not None
    assert "<b>RP12 3456 789IT</b>" in html.get_content()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("450 4.2.1 Mailbox busy", TemporaryChannelError),
        ("550 5.1.1 No such user", PermanentChannelError),
    ],
    ids=["450", "550"],
)
def test_a_refused_recipient_is_classified_by_its_code(
    smtp_server: SmtpServer, reply: str, error: type[Exception]
) -> None:
    smtp_server.rcpt_replies.append(reply)
    with pytest.raises(error) as caught:
        smtp_channel(smtp_server.port).send(EMAIL)
    assert caught.value.code == reply[:3]  # type: ignore[attr-defined]
    assert smtp_server.received == []


def test_an_unreachable_smtp_server_is_temporary() -> None:
    with pytest.raises(TemporaryChannelError):
        smtp_channel(free_port()).send(EMAIL)


@pytest.mark.parametrize("service", [False, True], ids=["from number", "messaging service"])
def test_prism_accepts_what_the_official_client_sends(prism_twilio: str, service: bool) -> None:
    channel, http = twilio_channel(prism_twilio, service=service)
    result = channel.send(SMS)
    assert result.provider_id
    assert result.provider_id.startswith("SM")
    (sent,) = http.sent
    assert sent["method"] == "POST"
    assert sent["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    assert sent["data"]["To"] == "+393331234567"
    assert sent["data"]["Body"] == "Pacco in arrivo"
    assert (
        sent["data"]["StatusCallback"]
        == "https://notifier.rapido.example/webhooks/twilio/status/42"
    )
    if service:
        assert sent["data"]["MessagingServiceSid"] == "MG" + "a" * 32
        assert "From" not in sent["data"]
    else:
        assert sent["data"]["From"] == "+390212345678"


def test_prism_refuses_a_malformed_status_callback_and_it_is_not_retried(prism_twilio: str) -> None:
    channel, _ = twilio_channel(prism_twilio)
    channel.status_callback_url = lambda outbox_id: f"not a uri {outbox_id}"
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(SMS)
    assert caught.value.code == "422"


@pytest.mark.parametrize(
    ("status", "code", "check"),
    [
        (400, 21211, lambda e: isinstance(e, PermanentChannelError) and not e.opted_out),
        (400, 21610, lambda e: isinstance(e, PermanentChannelError) and e.opted_out),
        (400, 21614, lambda e: isinstance(e, PermanentChannelError)),
        (429, 20429, lambda e: isinstance(e, TemporaryChannelError)),
        (500, 20500, lambda e: isinstance(e, TemporaryChannelError)),
        (503, None, lambda e: isinstance(e, TemporaryChannelError)),
        (401, 20003, lambda e: isinstance(e, PermanentChannelError)),
    ],
    ids=["21211", "21610", "21614", "429", "500", "503 bare", "401"],
)
def test_twilio_errors_are_classified(
    fake_twilio: FakeTwilio, status: int, code: int | None, check: Callable[[Exception], bool]
) -> None:
    fake_twilio.script((status, code if code is not None else 0))
    channel, _ = twilio_channel(fake_twilio.url)
    with pytest.raises((TemporaryChannelError, PermanentChannelError)) as caught:
        channel.send(SMS)
    assert check(caught.value), caught.value
    assert caught.value.code == str(code or status)  # type: ignore[attr-defined]
    assert len(fake_twilio.requests) == 1


def test_an_unreachable_twilio_is_temporary() -> None:
    channel, _ = twilio_channel(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TemporaryChannelError):
        channel.send(SMS)


def test_prism_answers_the_status_fetch_the_official_client_sends(prism_twilio: str) -> None:
    channel, http = twilio_channel(prism_twilio)
    sid = "SM" + "b" * 32
    status = channel.fetch_status(sid)
    # Prism answers with the spec's own example: still "sent", with an error code.
    assert status == ProviderStatus(status="sent", error_code="30007")
    (sent,) = http.sent
    assert sent["method"] == "GET"
    assert sent["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/{sid}.json"


def test_prism_refuses_a_fetch_for_a_malformed_sid(prism_twilio: str) -> None:
    channel, _ = twilio_channel(prism_twilio)
    with pytest.raises(PermanentChannelError) as caught:
        channel.fetch_status("not-a-sid")
    assert caught.value.code == "422"


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (404, 20404, PermanentChannelError),
        (429, 20429, TemporaryChannelError),
        (500, 20500, TemporaryChannelError),
    ],
    ids=["404 unknown sid", "429", "500"],
)
def test_a_failed_status_fetch_is_classified(
    fake_twilio: FakeTwilio, status: int, code: int, error: type[Exception]
) -> None:
    sid = FakeTwilio.sid(1)
    fake_twilio.fail_fetch(sid, status, code)
    channel, _ = twilio_channel(fake_twilio.url)
    with pytest.raises(error) as caught:
        channel.fetch_status(sid)
    assert caught.value.code == str(code)  # type: ignore[attr-defined]
    assert fake_twilio.fetched == [sid]


def test_a_fetched_final_status_carries_its_error_code(fake_twilio: FakeTwilio) -> None:
    fake_twilio.answer_fetch(FakeTwilio.sid(1), "undelivered", 30006)
    fake_twilio.answer_fetch(FakeTwilio.sid(2), "delivered")
    channel, _ = twilio_channel(fake_twilio.url)
    assert channel.fetch_status(FakeTwilio.sid(1)) == ProviderStatus("undelivered", "30006")
    assert channel.fetch_status(FakeTwilio.sid(2)) == ProviderStatus("delivered", None)


def test_a_status_fetch_from_an_unreachable_twilio_is_temporary() -> None:
    channel, _ = twilio_channel(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TemporaryChannelError):
        channel.fetch_status(FakeTwilio.sid(1))


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:4010", "http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json"),
        (
            "http://mock.local/twilio/",
            "http://mock.local/twilio/2010-04-01/Accounts/AC1/Messages.json",
        ),
    ],
    ids=["host and port", "with a path"],
)
def test_the_base_url_replaces_twilios_origin_and_keeps_path_and_query(
    base: str, expected: str
) -> None:
    client = BaseUrlHttpClient(base)
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    assert client.rebase(url) == expected
    assert client.rebase(url + "?PageSize=5") == expected + "?PageSize=5"


def test_twilios_own_base_url_leaves_the_official_client_as_it_is() -> None:
    assert type(build_twilio_client(SID, TOKEN).http_client) is TwilioHttpClient
    rebased = build_twilio_client(SID, TOKEN, api_base_url="http://127.0.0.1:4010")
    assert isinstance(rebased.http_client, BaseUrlHttpClient)
