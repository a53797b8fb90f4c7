"""The effective configuration as TOML, with every secret shown as ``***``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from luna_events.ship.config import PluginSinkConfig, ShipConfig
from luna_events.ship.secrets import REDACTED, Secret


def _encode(value: Any) -> Any:
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot show {type(value).__name__}")


def effective(config: ShipConfig) -> dict[str, Any]:
    """``config`` as plain data; a plugin sink's settings are part of ``[sink]``.

    A secret read from its ``*_file`` is shown as that file only, so the output
    can be read back as a config.
    """
    data: dict[str, Any] = msgspec.to_builtins(config, enc_hook=_encode)
    sink = data.pop("sink")
    if isinstance(config.sink, PluginSinkConfig):
        sink.update(sink.pop("settings") or {})
    for secret in ("password", "token"):
        if sink.get(f"{secret}_file") is not None:
            sink.pop(secret, None)
    data["sink"] = {"type": sink.pop("type"), **sink}
    return data


def _value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return repr(item)
    if isinstance(item, list):
        return "[" + ", ".join(_value(i) for i in item) + "]"
    if isinstance(item, dict):
        pairs = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in item.items() if v is not None)
        return "{" + pairs + "}"
    return _string(str(item))


def _key(name: str) -> str:
    bare = name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    return name if bare else _string(name)


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes, and DEL, which TOML does not allow raw)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def to_toml(data: dict[str, Any], table: str = "") -> str:
    """``data`` as TOML: scalars first, then one ``[table]`` per nested dict; ``None`` left out."""
    lines = [
        f"{_key(k)} = {_value(v)}"
        for k, v in data.items()
        if v is not None and not isinstance(v, dict)
    ]
    out = ([f"[{table}]"] if table and lines else []) + lines
    for key, value in data.items():
        if isinstance(value, dict):
            name = f"{table}.{_key(key)}" if table else _key(key)
            out += ["", to_toml(value, name)] if value else ["", f"[{name}]"]
    return "\n".join(out).strip("\n")
