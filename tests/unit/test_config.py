"""Configuration: the example is valid, and every kind of mistake is named by file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from notifier import paths
from notifier.cli import app
from notifier.config import load_settings
from notifier.config.loading import find_config_path
from notifier.config.pitfalls import setup_warnings
from notifier.config.secrets import Secrets
from notifier.config.settings import Rebooking, SmsChannel
from notifier.errors import ConfigError
from notifier.vocabulary import Reason, Status

EXAMPLE = paths.example_config()
runner = CliRunner()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def example_with(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text, f"the example no longer contains {old!r}"
    return write_config(tmp_path, text.replace(old, new, 1))


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    return [str(p) for p in caught.value.problems]


def test_the_example_is_valid_and_complete() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.company.timezone == "Europe/Rome"
    assert settings.database.url.startswith("sqlite:///")
    assert settings.channels.sms.transport == "console"
    assert settings.channels.email.transport == "console"
    # Every row of design section 6 has a rule.
    assert set(settings.rules) >= {
        Status.CREATED,
        Status.OUT_FOR_DELIVERY,
        Status.DELIVERY_ATTEMPTED,
        Status.AVAILABLE_FOR_PICKUP,
        Status.DELIVERED,
        Status.EXCEPTION,
        Status.RETURNING,
    }
    assert settings.rules[Status.DELIVERY_ATTEMPTED].reminder_after_hours == 24
    override = settings.rules[Status.DELIVERY_ATTEMPTED].reasons[Reason.PAYMENT_REQUIRED]
    assert override.template == "missed_delivery_payment"


def test_check_config_accepts_the_example() -> None:
    result = runner.invoke(app, ["check-config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_check_config_names_a_misspelt_key_a_bad_timezone_and_a_bad_phone(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('timezone = "Europe/Rome"', 'timezone = "Europe/Roma"')
    text = text.replace('phone = "+39 02 1234 5678"', 'phone = "12"', 1)
    text = text.replace("batch_size = ", "bach_size = ")
    path = write_config(tmp_path, text)

    result = runner.invoke(app, ["check-config", str(path)])

    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert f"{path}: company.timezone:" in output
    assert "Europe/Roma" in output
    assert f"{path}: company.phone:" in output
    assert f"{path}: ingest.bach_size: unknown key" in output


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ('url = "sqlite:///notifier.db"', 'url = "mysql://x/y"', "database.url", "postgresql"),
        ('url = "sqlite:///notifier.db"', 'url = "::nonsense"', "database.url", "not a database"),
        (
            'website = "https://rapido.example"',
            'website = "not a url"',
            "company.website",
            "URL",
        ),
        (
            'default_locale = "it"',
            'default_locale = "xx-nowhere"',
            "company.default_locale",
            "locale",
        ),
        (
            'default_phone_region = "IT"',
            'default_phone_region = "ZZ"',
            "company.default_phone_region",
            "region",
        ),
        ('email = "assistenza@rapido.example"', 'email = "nobody"', "company.email", "email"),
        ("max_body_bytes = 1048576", 'max_body_bytes = "big"', "api.max_body_bytes", "integer"),
        ('start = "21:00"', 'start = "9pm"', "quiet_hours.start", "time"),
        ('sat = "09:00-13:00"', 'sat = "13:00-09:00"', "company.phone_hours.sat", "time range"),
        ('sat = "09:00-13:00" }', 'sat = "13:00-09:00" }', "depots.0.hours.sat", "time range"),
        ('transport = "console"', 'transport = "pigeon"', "channels.sms.transport", "twilio"),
        ('transport = "console"', 'transport = "twilio"', "channels.sms", "from_number"),
        ("[rules.EXCEPTION]", "[rules.EXCEPTIONS]", "rules.EXCEPTIONS", "not a status"),
        (
            "[rules.DELIVERY_ATTEMPTED.reasons.PAYMENT_REQUIRED]",
            "[rules.DELIVERY_ATTEMPTED.reasons.NO_MONEY]",
            "rules.DELIVERY_ATTEMPTED.reasons.NO_MONEY",
            "not a status or reason",
        ),
        ('channels = ["sms", "email"]', 'channels = ["fax"]', "rules.CREATED.channels.0", "sms"),
        (
            'purpose = "parcel_received"',
            'purpose = "rebooked:42"',
            "rules.CREATED.purpose",
            "not a status rule's purpose: use one of parcel_received",
        ),
        (
            'purpose = "returning"',
            'purpose = "rebooking_confirmed"',
            "rules.RETURNING.purpose",
            "not a status rule's purpose",
        ),
        (
            'code = "LK-MI-03"',
            'code = "PP-MI-12"',
            "pickup_points",
            "codes used twice: PP-MI-12",
        ),
        (
            "[channels.email]",
            '[channels.email]\npassword = "hunter2"',
            "channels.email.password",
            "NOTIFIER_SMTP_PASSWORD",
        ),
        ("# override_dir", 'override_dir = "nowhere"\n#', "templates.override_dir", "directory"),
    ],
    ids=lambda v: v if isinstance(v, str) and "." in v and " " not in v else None,
)
def test_each_mistake_is_named_by_key(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    problems = problems_of(example_with(tmp_path, old, new))
    matching = [p for p in problems if f": {key}:" in p]
    assert matching, f"no problem names {key}: {problems}"
    assert any(words.lower() in p.lower() for p in matching), matching


def test_a_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[company]\nname = \n")
    (problem,) = problems_of(path)
    assert str(path) in problem
    assert "line 2" in problem


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path / "absent.toml")
    assert "absent.toml" in problem
    assert "not found" in problem


def test_a_missing_required_key_is_named(tmp_path: Path) -> None:
    path = example_with(tmp_path, 'name = "Rapido Consegne"\n', "")
    assert any("company.name: required key is missing" in p for p in problems_of(path))


def test_rules_keep_defaults_for_keys_not_written(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        EXAMPLE.read_text(encoding="utf-8").split("# Notification rules")[0]
        + '[rules.CREATED]\nchannels = ["email"]\n',
    )
    settings = load_settings(path, env={})
    assert settings.rules[Status.CREATED].channels == ["email"]
    assert settings.rules[Status.CREATED].template == "created"
    assert settings.rules[Status.OUT_FOR_DELIVERY].delay_minutes == 5


def test_secrets_and_database_url_come_from_the_environment() -> None:
    env = {
        "NOTIFIER_DATABASE_URL": "postgresql://notifier@db/notifier",
        "NOTIFIER_API_KEY": "first-key, second-key",
        "TWILIO_AUTH_TOKEN": "s3cr3t-value",
    }
    settings = load_settings(EXAMPLE, env=env)
    assert settings.database.url == "postgresql://notifier@db/notifier"
    keys = [k.get_secret_value() for k in settings.secrets.api_keys]
    assert keys == ["first-key", "second-key"]
    assert settings.secrets.twilio_auth_token is not None
    assert "s3cr3t-value" not in repr(settings.secrets)
    assert "secrets" not in settings.model_dump()


def test_no_secrets_means_none() -> None:
    assert Secrets.from_environment({}) == Secrets()


def test_config_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    explicit = tmp_path / "explicit.toml"
    assert find_config_path(explicit, {"NOTIFIER_CONFIG": "env.toml"}) == explicit
    assert find_config_path(None, {"NOTIFIER_CONFIG": "env.toml"}) == Path("env.toml")
    assert find_config_path(None, {}) == EXAMPLE
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    assert find_config_path(None, {}) == Path("config.toml")


def test_phone_hours_in_words_are_refused_with_the_table_to_write(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("[company.phone_hours]")
    end = text.index("\n\n", start)
    table = text[start:end]
    words = text[:start] + 'phone_hours = "lun-ven 8-20"' + text[end:]
    words = words.replace('phone_hours = "lun-ven 8-20"', "")
    words = words.replace("[company]\n", '[company]\nphone_hours = "lun-ven 8-20"\n', 1)
    assert table.startswith("[company.phone_hours]")
    problems = problems_of(write_config(tmp_path, words))
    (problem,) = [p for p in problems if ": company.phone_hours:" in p]
    assert "per weekday" in problem
    assert 'mon = "08:00-20:00"' in problem


def test_the_example_documents_rebooking_with_the_defaults() -> None:
    """The example shows every [rebooking] key with the value notifier uses without it."""
    settings = load_settings(EXAMPLE, env={"NOTIFIER_SECRET_KEY": "k"})
    assert "[rebooking]" in EXAMPLE.read_text(encoding="utf-8")
    assert settings.rebooking == Rebooking()


@pytest.mark.parametrize(
    ("sender", "stored"),
    [
        ("+390212345678", "+390212345678"),
        ("+39 02 1234 5678", "+390212345678"),  # written as people write it, kept as E.164
        ("40404", "40404"),  # a short code
        ("Rapido", "Rapido"),
        ("Rapido 24", "Rapido 24"),
    ],
)
def test_an_sms_sender_is_a_number_a_short_code_or_an_alphanumeric_id(
    sender: str, stored: str
) -> None:
    assert SmsChannel(from_number=sender).from_number == stored


@pytest.mark.parametrize(
    "sender",
    ["Rapido Consegne", "3331234567", "+39 abc", "12", "Rapido!", "+0212345678"],
    ids=[
        "12 characters",
        "no country code",
        "letters in a number",
        "too short",
        "punctuation",
        "no country",
    ],
)
def test_anything_else_is_refused_as_a_sender(sender: str) -> None:
    with pytest.raises(ValueError, match="not an SMS sender"):
        SmsChannel(from_number=sender)


def test_the_example_documents_the_sms_channel_with_the_defaults() -> None:
    settings = load_settings(EXAMPLE, env={"NOTIFIER_SECRET_KEY": "k"})
    assert settings.channels.sms == SmsChannel()
    assert str(settings.channels.sms.api_base_url) == "https://api.twilio.com/"
    assert settings.channels.sms.replies is True


TWILIO_ENV = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "token"}
TWILIO = (('transport = "console"', 'transport = "twilio"'), ("# from_number = ", "from_number = "))


def warnings_of(tmp_path: Path, *changes: tuple[str, str], env: dict[str, str]) -> list[str]:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, f"the example no longer contains {old!r}"
        text = text.replace(old, new, 1)
    path = write_config(tmp_path, text)
    return [str(w) for w in setup_warnings(load_settings(path, env=env), source=str(path))]


def test_a_sound_twilio_set_up_and_the_example_have_no_warnings(tmp_path: Path) -> None:
    assert warnings_of(tmp_path, env={}) == []
    public = ('public_base_url = "http://127.0.0.1:8000"', 'public_base_url = "https://n.example"')
    assert warnings_of(tmp_path, *TWILIO, public, env=TWILIO_ENV) == []


def test_replies_to_an_alphanumeric_sender_are_warned_of_unless_turned_off(tmp_path: Path) -> None:
    sender = ("# from_number = ", 'from_number = "Rapido"\n#')
    (warning,) = warnings_of(tmp_path, sender, env={})
    assert ": channels.sms.from_number: 'Rapido' is an alphanumeric sender ID" in warning
    assert "cannot reply" in warning
    assert warnings_of(tmp_path, sender, ("replies = true", "replies = false"), env={}) == []
    service = ("# messaging_service_sid = ", "messaging_service_sid = ")
    assert warnings_of(tmp_path, sender, service, env={}) == []  # its pool may have a number


@pytest.mark.parametrize(
    ("changes", "key", "words"),
    [
        ((), "web.public_base_url", "cannot be reached from the internet"),
        (
            (
                (
                    'public_base_url = "http://127.0.0.1:8000"',
                    'public_base_url = "http://n.example"',
                ),
            ),
            "web.public_base_url",
            "not https",
        ),
        (
            (
                (
                    'api_base_url = "https://api.twilio.com"',
                    'api_base_url = "http://twilio.example"',
                ),
            ),
            "channels.sms.api_base_url",
            "credentials",
        ),
        (
            (("# messaging_service_sid = ", "messaging_service_sid = "),),
            "channels.sms.from_number",
            "not used",
        ),
    ],
    ids=["localhost callbacks", "http callbacks", "http api", "sender and service"],
)
def test_twilio_set_up_mistakes_are_warned_of_by_key(
    tmp_path: Path, changes: tuple[tuple[str, str], ...], key: str, words: str
) -> None:
    warnings = warnings_of(tmp_path, *TWILIO, *changes, env=TWILIO_ENV)
    assert any(f": {key}: " in w and words in w for w in warnings), warnings


def test_a_local_mock_of_twilios_api_may_be_plain_http(tmp_path: Path) -> None:
    mock = ('api_base_url = "https://api.twilio.com"', 'api_base_url = "http://127.0.0.1:4010"')
    warnings = warnings_of(tmp_path, *TWILIO, mock, env=TWILIO_ENV)
    assert not [w for w in warnings if "api_base_url" in w]


def test_check_config_prints_warnings_names_their_keys_and_still_passes(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in TWILIO:
        text = text.replace(old, new, 1)
    path = write_config(tmp_path, text)
    result = runner.invoke(app, ["check-config", str(path)], env={"TWILIO_ACCOUNT_SID": ""})
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"warning {path}: web.public_base_url: 127.0.0.1 cannot be reached" in output
    assert "warning environment: TWILIO_ACCOUNT_SID: not set" in output
    assert "OK (1 depots, 7 rules, 3 warnings)" in output
