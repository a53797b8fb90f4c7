"""Secrets: URL credentials split off, and the redacting log filter (the safety net
behind building clients from credential-free URLs)."""

from __future__ import annotations

import io
import logging

import pytest

from luna_events.ship.secrets import (
    RedactingFilter,
    Secret,
    hide_userinfo,
    redact,
    split_url_credentials,
)


@pytest.mark.parametrize(
    ("url", "clean", "user", "password"),
    [
        ("http://luna:pa%3Ass@db:8086/x?y=1", "http://db:8086/x?y=1", "luna", "pa:ss"),
        ("https://token-only@db", "https://db", "token-only", None),
        ("http://u:p@[::1]:8086", "http://[::1]:8086", "u", "p"),
        ("http://db:8086", "http://db:8086", None, None),
        ("http://u:p@ss@db", "http://db", "u", "p@ss"),
        ("http://u:p%23w@db", "http://db", "u", "p#w"),
    ],
)
def test_credentials_are_split_off_urls(
    url: str, clean: str, user: str | None, password: str | None
):
    got_url, got_user, got_password = split_url_credentials(url)
    assert (got_url, got_user) == (clean, user)
    assert (got_password.reveal() if got_password else None) == password


def test_every_log_line_is_redacted_messages_arguments_and_tracebacks():
    secret = Secret("hunter2-redact-me")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("POST %s", "http://luna:other-password@db:8086/write")
        logger.warning("password is %s", secret.reveal())
        try:
            raise RuntimeError(f"failed with {secret.reveal()}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "hunter2-redact-me" not in text and "other-password" not in text
    assert "http://***@db:8086/write" in text and "password is ***" in text
    assert "RuntimeError: failed with ***" in text
    assert redact("nothing secret here") == "nothing secret here"
    assert repr(secret) == "Secret('***')" and str(secret) == "Secret('***')"


@pytest.mark.parametrize(
    "url",
    [
        "http://u:zq1-zq2@db:99999",
        "http://u:zq1-zq2@db:port",
        "http://u:zq1-zq2@[::1",
        "http://u:zq1#zq2@db:8086",
        "http://u:zq1/zq2@db",
        "http://u:zq1?zq2@db",
        "http://u:zq1-zq2@",
    ],
)
def test_unreadable_urls_are_refused_without_showing_any_part_of_them(url: str):
    with pytest.raises(ValueError) as refused:
        split_url_credentials(url)
    assert "zq" not in str(refused.value)
    assert "zq" not in hide_userinfo(url)


def test_redact_hides_a_password_holding_an_at_sign():
    assert redact("POST http://u:p@ss-word@db:8086/write") == "POST http://***@db:8086/write"
