"""Configuration errors as one line: the key path, the value, what was expected."""

from __future__ import annotations

import datetime
import difflib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from luna_events.errors import LunaEventsError
from luna_events.ship.secrets import REDACTED, Secret, hide_userinfo

SECRET_WORDS = ("pass", "pwd", "token", "secret", "key", "auth", "cred")
"""Keys holding one of these (or misspelling a key that does) never have their
value shown, not even in an error."""
SUGGESTIONS = {"user": "username", "pass": "password", "db": "database", "organization": "org"}
"""Common names for keys that difflib would not find."""
_AT = re.compile(r"^(?P<text>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>.*)`$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<key>.*)`$", re.S)


class ConfigError(LunaEventsError, ValueError):
    """The configuration is wrong; the message is one line naming the key."""

    @classmethod
    def from_validation(
        cls,
        error: msgspec.ValidationError,
        prefix: str,
        table: Any,
        kind: Any,
        origins: Mapping[str, str],
    ) -> ConfigError:
        """Explain msgspec's ``error`` for ``table`` (read as ``kind`` under ``prefix``)."""
        match = _AT.match(str(error))
        assert match is not None  # the pattern matches any text
        parts = _parts(match.group("path") or "")
        text = match.group("text")
        if unknown := _UNKNOWN.match(text):
            key = unknown.group("key")
            owner, value = _walk(kind, table, parts)
            known = [f.encode_name for f in msgspec.structs.fields(owner)] if owner else []
            inner = value.get(key) if isinstance(value, dict) else None
            where = _join(prefix, parts)
            if prefix == "sink" and not parts and isinstance(table, dict):
                label = f"{table.get('type', 'influxdb_v1')} sinks"
                if "sink.type" in origins:
                    label += f" (from {origins['sink.type']})"
            else:
                label = f"[{where}]" if where else "the top level"
            return cls.unknown_key(where, key, inner, known, label, origins)
        if missing := _MISSING.match(text):
            where = _join(prefix, [*parts, missing.group("key")])
            return cls(f"{where}: missing (the key is required)")
        hint, value = _walk(kind, table, parts, hints=True)
        path = _join(prefix, parts)
        expected = explain(text)
        if typing.get_origin(_strip(hint)) is Literal:
            expected = "expected one of " + ", ".join(
                show(a) for a in typing.get_args(_strip(hint))
            )
        shown = shown_value(str(parts[-1]) if parts else "", value, secret=_strip(hint) is Secret)
        origin = f" (from {origins[path]})" if path in origins else ""
        return cls(f"{path}{origin} = {shown}: {expected}")

    @classmethod
    def unknown_key(
        cls,
        table: str,
        key: str,
        value: Any,
        known: Sequence[str],
        owner: str,
        origins: Mapping[str, str],
    ) -> ConfigError:
        """``key`` is not one of ``known`` in ``table``: say so, with a suggestion."""
        name = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)
        path = f"{table}.{name}" if table else name
        origin = f" (from {origins[path]})" if path in origins else ""
        guess = SUGGESTIONS.get(key) if SUGGESTIONS.get(key) in known else None
        guess = guess or next(iter(difflib.get_close_matches(key, known, n=1)), None)
        shown = shown_value(key, value, secret=guess is not None and _secret_name(guess))
        hint = f'; did you mean "{guess}"?' if guess else f"; known: {', '.join(sorted(known))}"
        where = f" of {owner}" if owner else ""
        return cls(f"{path}{origin} = {shown}: not a key{where}{hint}")


def explain(text: str) -> str:
    """msgspec's message in plain words (``expected an integer, got a string``)."""
    text = text.replace("`", "")
    text = text.replace("Expected int", "expected an integer").replace(
        "Expected float", "expected a number"
    )
    text = text.replace("Expected bool", "expected true or false")
    text = text.replace("Expected str", "expected a string").replace(
        "Expected object", "expected a table"
    )
    text = text.replace("Expected array", "expected a list")
    text = re.sub(r"a string matching regex '\^https\?://.*'$", "an http:// or https:// URL", text)
    for name, words in (
        ("str", "a string"),
        ("int", "an integer"),
        ("float", "a number"),
        ("bool", "true or false"),
        ("array", "a list"),
        ("object", "a table"),
        ("datetime", "a date-time"),
        ("date", "a date"),
        ("time", "a time"),
    ):
        text = text.replace(f", got {name}", f", got {words}")
    return text[:1].lower() + text[1:]


def shown_value(key: str, value: Any, *, secret: bool = False) -> str:
    """``value`` of ``key`` as an error shows it: secrets as ``***``, a URL without
    its user and password."""
    if secret or _secret_name(key):
        return REDACTED
    return show(hide_userinfo(value) if key == "url" and isinstance(value, str) else value)


def _secret_name(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_WORDS)


def show(value: Any) -> str:
    """A value as it would be written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "(nothing)"
    if isinstance(value, dict):
        return "{table}"
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date too
        return value.isoformat()
    return repr(value) if not isinstance(value, list) else json.dumps(value, default=str)


def _parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PART.findall(path)]


def _join(prefix: str, parts: Sequence[str | int]) -> str:
    out = prefix
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else f"{out}.{part}" if out else part
    return out


def _strip(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _strip(args[0]) if len(args) == 1 else hint
    return hint


def _walk(
    kind: Any, value: Any, parts: Sequence[str | int], *, hints: bool = False
) -> tuple[Any, Any]:
    """Follow ``parts`` through the struct type and the data together."""
    for part in parts:
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and part < len(value) else None
            args = typing.get_args(_strip(kind))
            kind = args[0] if args else None
            continue
        value = value.get(part) if isinstance(value, dict) else None
        owner = _strip(kind)
        fields = (
            {f.encode_name: f.type for f in msgspec.structs.fields(owner)}
            if isinstance(owner, type) and issubclass(owner, msgspec.Struct)
            else {}
        )
        kind = fields.get(part)
    return (kind if hints else _strip(kind)), value
