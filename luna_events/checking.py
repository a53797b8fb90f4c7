"""Checking events where they are made: strict mode, and the default mode's warnings.

* **Strict mode** (``LUNA_EVENTS_STRICT=1``, or ``configure_logging(strict=True)``):
  every monitoring record is validated on the caller's thread, and an invalid event
  raises :class:`~luna_events.errors.InvalidEvent` listing every problem. For
  development and test suites.
* **Default mode**: the record is written as given (the shipper dead-letters what
  InfluxDB would refuse, so nothing is lost silently), and each (series, problem) is
  logged once as a warning and counted (:mod:`luna_events.guard`). The check runs in
  the handler, i.e. on ``configure_logging``'s listener thread, off the request path.

Both use the catalog's rules through :func:`luna_events.validation.check`; the
default mode first asks the fast encoder, which answers for a valid event in a
fraction of the time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from luna_events.errors import InvalidEvent, Problem
from luna_events.event import FORMAT_KEY, Event
from luna_events.fastpath import FastEncoder
from luna_events.guard import report, report_error, series_of
from luna_events.validation import check, type_name

STRICT_ENV = "LUNA_EVENTS_STRICT"
"""Set to ``1`` (or ``true``, ``yes``, ``on``) to validate every event when it is emitted."""


def strict_from_env() -> bool:
    """Whether :data:`STRICT_ENV` asks for strict mode."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def problems_of(event: object, service: str | None = None) -> list[Problem]:
    """Every problem of ``event`` (something that should be an :class:`Event`), with
    ``service`` as its ``service`` tag when it has none (as the formatter writes it)."""
    if type(event) is not Event:
        return [Problem("wrong_type", FORMAT_KEY, f"expected an Event, got {type_name(event)}")]
    if service is not None and isinstance(event.tags, dict) and "service" not in event.tags:
        event = Event(event.series, event.time_ns, {**event.tags, "service": service}, event.fields)
    return check(event)


def check_strictly(event: object, service: str | None = None) -> None:
    """Raise :class:`InvalidEvent` with every problem of ``event``, if it has any."""
    problems = problems_of(event, service)
    if problems:
        raise InvalidEvent(problems)


@contextmanager
def noted_on(failure: BaseException | None) -> Iterator[None]:
    """Strict mode beside the caller's own exception: an :class:`InvalidEvent` raised
    in the block becomes a note on ``failure``, which propagates untouched otherwise
    (without a ``failure``, it is raised as usual)."""
    try:
        yield
    except InvalidEvent as invalid:
        if failure is None:
            raise
        failure.add_note(f"luna-events strict mode: {invalid}")


class StrictFilter(logging.Filter):
    """A logger filter (caller's thread) that raises :class:`InvalidEvent` for a
    monitoring record whose event is not valid. ``service`` is the formatter's."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if FORMAT_KEY in record.__dict__:
            check_strictly(record.__dict__[FORMAT_KEY], self.service)
        return True


class StrictProcessor:
    """Strict mode for structlog's native path: a processor, before the renderer, that
    raises :class:`InvalidEvent` for an invalid ``luna_event``. ``service`` is the
    renderer's."""

    def __init__(self, service: str | None = None) -> None:
        self.service = service

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        if FORMAT_KEY in event_dict:
            check_strictly(event_dict[FORMAT_KEY], self.service)
        return event_dict


class WarningFilter(logging.Filter):
    """A handler filter that lets every record through and reports each (series,
    problem) of invalid events once (then counts it). Never raises. ``service`` is
    the formatter's."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service
        self._encoder = FastEncoder()

    def filter(self, record: logging.LogRecord) -> bool:
        event = record.__dict__.get(FORMAT_KEY)
        if event is None:
            return True
        try:
            if type(event) is Event:
                tags = event.tags
                if self.service is not None and "service" not in tags:
                    tags = {**tags, "service": self.service}
                if self._encoder.encode(event.series, event.time_ns, tags, event.fields):
                    return True
            warn_problems(event, "check", self.service)
        except Exception as error:
            report_error("check", series_of(event), error)
        return True


def warn_problems(event: object, where: str, service: str | None = None) -> list[Problem]:
    """Report every problem of ``event`` once per (series, problem); return them."""
    problems = problems_of(event, service)
    series = series_of(event)
    for problem in problems:
        report(where, series, f"{problem.path} {problem.code}", problem.message)
    return problems


def merge_extras(
    event: Event,
    tags: Mapping[str, Any] | None,
    fields: Mapping[str, Any] | None,
    *,
    where: str,
    strict: bool = False,
) -> Event:
    """Add additional tags and fields (a request's, a task's, a constructor's
    ``extra_tags``) to ``event``.

    A key the event already has (set by the middleware, helper or keyword) keeps its
    value. A key the catalog knows for the series fills that catalogued key when its
    value fits (``account_id`` on ``requests``). Whatever would make the event
    invalid (a wrong type, NaN, an object, a bad key) is left out and reported, so
    the event itself still arrives. Never raises, unless ``strict``: then those
    problems, with the event's own, raise :class:`InvalidEvent`.
    """
    refused: list[Problem] = []
    added: list[tuple[str, MutableMapping[str, Any], str]] = []
    targets: tuple[tuple[str, Mapping[str, Any] | None, MutableMapping[str, Any]], ...] = (
        ("tags", tags, event.tags),
        ("fields", fields, event.fields),
    )
    for kind, given, target in targets:
        if not given:
            continue
        if not isinstance(given, Mapping):
            message = f"additional {kind} must be a mapping, got {type_name(given)}; left out"
            refused.append(Problem("wrong_type", kind, message))
            report(where, event.series, f"{kind} wrong_type", message)
            continue
        for key, value in list(given.items()):
            if key in target:
                if target[key] is not value:
                    message = "already set: the value given first is kept"
                    refused.append(Problem("key_taken", f"{kind}.{key}", message))
                    report(where, event.series, f"{kind}.{key} taken", message)
                continue
            target[key] = value
            added.append((f"{kind}.{key}", target, key))
    if added:
        try:
            problems = problems_of(event)
        except Exception as error:
            report_error(where, event.series, error)
            problems = []
        paths = {problem.path: problem for problem in problems}
        for path, target, key in added:
            problem = paths.get(path)
            if problem is not None:
                del target[key]
                refused.append(problem)
                report(where, event.series, f"{path} {problem.code}", problem.message)
    if strict and refused:  # every problem at once: the event's own ones too
        raise InvalidEvent(refused + problems_of(event))
    return event
