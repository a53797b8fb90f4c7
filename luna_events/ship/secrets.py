"""Credentials: a :class:`Secret` type that never prints, credentials taken out of
URLs, and a logging filter that redacts any known secret from every log line.

The filter is a safety net: the shipper already builds its HTTP clients from
credential-free URLs and passes credentials as auth, so no library has them to log.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"
MIN_REDACTED_LENGTH = 3
"""Shorter secrets are not searched for in log text (they would blank ordinary words)."""

_known: set[str] = set()
_lock = threading.Lock()
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s]+@")


class Secret:
    """A credential that never appears in logs, reprs or status output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= MIN_REDACTED_LENGTH:
            with _lock:
                _known.add(value)

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def split_url_credentials(url: str) -> tuple[str, str | None, Secret | None]:
    """``url`` without ``user:password@``, and the user and password it held.

    A URL that cannot be read is a :class:`ValueError` whose message holds no part
    of it (a password with an unencoded ``/ ? #`` would otherwise end up as the
    host, port or path, and in every message that shows them).
    """
    unreadable = "not a URL with a host and a port from 0 to 65535"
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [IPv6 address]
        raise ValueError(unreadable) from None
    if "@" in url.partition("://")[2].partition(parts.netloc)[2]:
        raise ValueError("an @ after the host: in a user or password write / ? # as %2F %3F %23")
    try:
        parts.port  # noqa: B018  (reading it checks it)
    except ValueError:
        raise ValueError(unreadable) from None
    if not parts.hostname:
        raise ValueError(unreadable)
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.netloc.rpartition("@")[2]  # the host and port as they were written
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password is not None else None
    return clean, username, password


def hide_userinfo(url: str) -> str:
    """``url`` with everything between its scheme and its last ``@`` as ``***``, for
    messages about a URL that could not be read."""
    head, at, rest = url.rpartition("@")
    if not at:
        return url
    scheme, separator, _ = head.partition("://")
    return f"{scheme}{separator}{REDACTED}@{rest}" if separator else f"{REDACTED}@{rest}"


def redact(text: str) -> str:
    """``text`` with URL credentials and every known secret replaced by ``***``."""
    text = _USERINFO.sub(lambda match: match.group("scheme") + REDACTED + "@", text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: root)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
