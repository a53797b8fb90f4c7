"""Secrets: URL credentials split off, and the redacting log filter (the safety net
behind building clients from credential-free URLs)."""

from __future__ import annotations

import io
import logging

import pytest

from luna_events.ship.secrets import RedactingFilter, Secret, redact, split_url_credentials


@pytest.mark.parametrize(
    ("url", "clean", "user", "password"),
    [
        ("http://luna:pa%3Ass@db:8086/x?y=1", "http://db:8086/x?y=1", "luna", "pa:ss"),
        ("https://token-only@db", "https://db", "token-only", None),
        ("http://u:p@[::1]:8086", "http://[::1]:8086", "u", "p"),
        ("http://db:8086", "http://db:8086", None, None),
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
