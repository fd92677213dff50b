"""The pure parts of email: SMTP_URL forms, the message's headers and parts, retries, rendering and tokens."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiosmtplib
import pytest

from service.mail.message import MAX_ATTEMPTS, Outgoing, after_attempt, build_message, sender_domain, valid_address
from service.mail.render import KINDS, render
from service.mail.tokens import UnsubscribeLinkInvalid, mint_unsubscribe_token, verify_unsubscribe_token
from service.mail.transport import SmtpTarget, mail_mode, parse_smtp_url, refusal_of
from service.settings import ConfigError, Settings
from tests.conftest import make_settings

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", SmtpTarget("mail.example", 2525, None, None, use_tls=False, start_tls=None)),
        (
            "smtp://user%40x:p%3Ass@mail.example:587?starttls=1",
            SmtpTarget("mail.example", 587, "user@x", "p:ss", use_tls=False, start_tls=True),
        ),
        ("smtp://relay?starttls=0", SmtpTarget("relay", None, None, None, use_tls=False, start_tls=False)),
        ("smtps://u:p@smtp.example", SmtpTarget("smtp.example", None, "u", "p", use_tls=True, start_tls=False)),
    ],
)
def test_smtp_url_forms(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


def test_the_smtp_label_names_host_port_and_security_but_never_the_password() -> None:
    assert parse_smtp_url("smtps://u:secret@smtp.example").label == "smtp.example:465 (TLS)"
    assert parse_smtp_url("smtp://u:secret@m.example?starttls=1").label == "m.example:587 (STARTTLS)"
    assert parse_smtp_url("smtp://m.example").label == "m.example:25 (STARTTLS if offered)"


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://m.example?starttls=maybe"])
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        parse_smtp_url(url)


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://m.example:99999", "smtp://m.example/x"])
def test_settings_refuse_a_malformed_smtp_url(url: str) -> None:
    with pytest.raises(ConfigError, match="SMTP_URL"):
        make_settings(smtp_url=url)


def test_settings_read_the_email_variables() -> None:
    environ = {
        **{f"SAVEFLOW_{n}": "x" * 40 for n in ("EMBED_SECRET", "API_KEY", "SESSION_SECRET")},
        "SMTP_URL": "smtps://u:p@smtp.example",
        "SAVEFLOW_EMAIL_FROM": "Acme <billing@acme.example>",
    }
    settings = Settings.from_env(environ)
    assert (settings.smtp_url, settings.email_from) == ("smtps://u:p@smtp.example", "Acme <billing@acme.example>")
    with pytest.raises(ConfigError, match="SAVEFLOW_EMAIL_FROM"):
        Settings.from_env({**environ, "SAVEFLOW_EMAIL_FROM": "no address"})


def test_the_mode_follows_smtp_url_and_demo() -> None:
    assert mail_mode(make_settings(smtp_url="smtp://m.example")).kind == "smtp"
    assert mail_mode(make_settings()).kind == "demo"
    assert mail_mode(make_settings(demo=False)).kind == "off"


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (aiosmtplib.SMTPDataError(451, "try later"), False),
        (aiosmtplib.SMTPDataError(554, "spam"), True),
        (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b.c")]), True),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), False),  # ours to fix, so keep retrying
        (aiosmtplib.SMTPConnectError("refused"), False),
        (aiosmtplib.SMTPNotSupported("STARTTLS extension not supported"), False),
    ],
)
def test_refusals_are_permanent_only_for_the_recipients_5xx(error: aiosmtplib.SMTPException, permanent: bool) -> None:
    assert refusal_of(error).permanent is permanent


def test_retries_back_off_then_fail_and_a_permanent_refusal_fails_at_once() -> None:
    assert after_attempt(1, ok=True, permanent=False, delivered="sent", now=NOW).status == "sent"
    first = after_attempt(1, ok=False, permanent=False, delivered="sent", now=NOW)
    second = after_attempt(2, ok=False, permanent=False, delivered="sent", now=NOW)
    assert first.status == second.status == "pending"
    assert first.next_attempt_at == NOW + timedelta(minutes=1)
    assert second.next_attempt_at == NOW + timedelta(minutes=5)
    assert after_attempt(MAX_ATTEMPTS, ok=False, permanent=False, delivered="sent", now=NOW).status == "failed"
    assert after_attempt(1, ok=False, permanent=True, delivered="sent", now=NOW).status == "failed"


@pytest.mark.parametrize(
    "bad", ["", "ana", "ana@example", "a b@example.com", "ana@example.com\r\nBcc: x@y.z", "a@@b.c"]
)
def test_addresses_are_checked(bad: str) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        valid_address(bad)


def test_the_message_is_multipart_alternative_with_one_click_unsubscribe() -> None:
    outgoing = Outgoing(
        to="ana@example.com",
        subject="Ihre Pause endet am 2. Januar 2027",
        text="Hallo,\n",
        html="<p>Hallo,</p>",
        locale="de",
        message_id="<1@acme.example>",
        unsubscribe_url="https://sf.example/email/unsubscribe?token=t",
        date=NOW,
    )
    message = build_message(outgoing, from_header="Acme <billing@acme.example>")
    assert message["From"] == "Acme <billing@acme.example>"
    assert message["Date"] == "Mon, 01 Mar 2027 12:00:00 +0000"
    assert message["List-Unsubscribe"] == "<https://sf.example/email/unsubscribe?token=t>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Content-Language"] == "de"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == "Ihre Pause endet am 2. Januar 2027"
    assert sender_domain("Acme <billing@acme.example>") == "acme.example"


def test_both_kinds_render_in_every_language_with_the_date_in_that_language() -> None:
    context = {"resume_url": "https://app.example/resume?t=x", "resumes_at": datetime(2027, 1, 23, tzinfo=UTC)}
    subjects = {
        lang: render("pause_ending", locale=lang, context=context, unsubscribe_url="https://u.example").subject
        for lang in ("en", "de", "fr", "es")
    }
    assert subjects == {
        "en": "Your pause ends on January 23, 2027",
        "de": "Ihre Pause endet am 23. Januar 2027",
        "fr": "Votre pause se termine le 23 janvier 2027",
        "es": "Su pausa termina el 23 de enero de 2027",
    }
    assert set(KINDS) == {"winback", "pause_ending"}
    unknown = render("winback", locale="ja", context={"reactivate_url": "https://a.example"}, unsubscribe_url="u")
    assert unknown.subject == "We would love to have you back"  # an unsupported language falls back to English


def test_html_escapes_what_the_caller_passes_and_text_does_not() -> None:
    rendered = render(
        "winback",
        locale="en",
        context={"reactivate_url": "https://a.example/?a=1&b=2", "name": "<b>Ana</b>"},
        unsubscribe_url="https://u.example",
    )
    assert "&lt;b&gt;Ana&lt;/b&gt;" in rendered.html and "<b>Ana</b>" not in rendered.html
    assert 'href="https://a.example/?a=1&amp;b=2"' in rendered.html
    assert "Hi <b>Ana</b>," in rendered.text and "https://a.example/?a=1&b=2" in rendered.text


@pytest.mark.parametrize(
    ("kind", "context", "problem"),
    [
        ("invoice", {}, "unknown email kind"),
        ("winback", {}, "missing context"),
        ("winback", {"reactivate_url": "javascript:alert(1)"}, "absolute http"),
        ("winback", {"reactivate_url": "https://a.example", "coupon": "X"}, "unexpected context"),
        ("winback", {"reactivate_url": "https://a.example", "percent_off": "30"}, "whole number"),
        ("winback", {"reactivate_url": "https://a.example", "free_days": -1}, "whole number"),
        ("pause_ending", {"resume_url": "https://a.example", "resumes_at": datetime(2027, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_a_bad_context_is_refused(kind: str, context: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        render(kind, locale="en", context=context, unsubscribe_url="https://u.example")


def test_unsubscribe_tokens_round_trip_rotate_and_expire() -> None:
    settings = make_settings()
    token = mint_unsubscribe_token(settings, address="Ana@Example.com", customer_id="cus_1", locale="de", now=NOW)
    claims = verify_unsubscribe_token(token, settings, NOW + timedelta(days=399))
    assert (claims.address, claims.customer_id, claims.locale) == ("ana@example.com", "cus_1", "de")
    rotated = replace(settings, session_secret="n" * 64, previous_session_secrets=(settings.session_secret,))
    assert verify_unsubscribe_token(token, rotated, NOW).address == "ana@example.com"
    for bad_token, settings_used, at in (
        (token, settings, NOW + timedelta(days=401)),
        (token, replace(settings, session_secret="o" * 64), NOW),
        (("B" if token[0] == "A" else "A") + token[1:], settings, NOW),  # the payload changed, not the signature
        (None, settings, NOW),
    ):
        with pytest.raises(UnsubscribeLinkInvalid):
            verify_unsubscribe_token(bad_token, settings_used, at)


@pytest.mark.parametrize(
    ("locale", "terms", "deal"),
    [
        ("en", {"percent_off": 30, "duration_months": 3}, "30% off for 3 months"),
        ("de", {"percent_off": 30, "duration_months": 1}, "30 % Rabatt für einen Monat"),
        ("en", {"free_days": 14}, "14 days free"),
        ("en", {}, None),  # a caller that names no offer: the email makes none
    ],
)
def test_the_win_back_email_names_its_offer_in_the_language(
    locale: str, terms: dict[str, int], deal: str | None
) -> None:
    rendered = render(
        "winback", locale=locale, context={"reactivate_url": "https://a.example", **terms}, unsubscribe_url="u"
    )
    if deal is None:
        assert 'data-testid="email-deal"' not in rendered.html
        return
    assert deal in rendered.text
    assert 'data-testid="email-deal"' in rendered.html and deal in rendered.html
