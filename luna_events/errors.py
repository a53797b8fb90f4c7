"""Exceptions and problem reports raised by luna-events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an event or a line.

    ``code`` is stable and machine-readable (``missing_tag``, ``wrong_type``, ...),
    ``path`` says where (``series``, ``time``, ``tags.route``, ``fields.size``) and
    ``message`` explains it to a person.
    """

    code: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class LunaEventsError(Exception):
    """Base class of every error luna-events raises."""


class UsageError(LunaEventsError, ValueError):
    """A luna-events API was called the wrong way (swapped arguments, a missing
    setting, an unknown plugin); raised where the mistake is made."""


class UsageTypeError(LunaEventsError, TypeError):
    """An argument of the wrong kind given to a luna-events API (``monitor_time`` with
    its arguments swapped, a plugin that is neither callable nor has ``flush_point``)."""


class InvalidEvent(LunaEventsError, ValueError):
    """An event does not match the catalog. ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))
