"""Monitoring plugins: in-process consumers of every finished event.

Like the original platform's ``flushPointToMonitoring(point, logger)``, a plugin
receives finished points, not raw requests. A plugin is an object with a
``flush_point(event)`` method, or a plain callable; either may be ``async``.

Each plugin runs on a thread of its own behind a bounded queue: a slow plugin
delays nobody but itself, a failing one is logged (its first traceback, then once
per kind of failure, rate-limited) and counted, and when its queue is full new
events are dropped for that plugin (and counted) rather than making the request
wait. Plugins are named in config (``"package.module:attribute"``) or
registered under the entry point group ``luna_events.plugins``.

A class is instantiated with no arguments, or by its ``create_plugin()`` classmethod
when it has one. When the runner closes, an object plugin's ``close()`` (sync or
``async``) runs on the plugin's thread after its last event.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from luna_events.errors import UsageError, UsageTypeError
from luna_events.event import Event
from luna_events.guard import report_error

ENTRY_POINT_GROUP = "luna_events.plugins"
log = logging.getLogger("luna_events.plugins")

Plugin = Callable[[Event], Any]
"""What a plugin is once loaded: called with each event; may return an awaitable."""


@dataclass
class PluginStats:
    """What happened to the events handed to one plugin."""

    delivered: int = 0
    failed: int = 0
    dropped: int = 0


_STOP = object()


class _Worker:
    def __init__(self, name: str, plugin: Plugin, queue_size: int, timeout: float) -> None:
        self.name = name
        self.plugin = plugin
        self.timeout = timeout
        self.stats = PluginStats()
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.thread = threading.Thread(target=self._run, name=f"luna-plugin-{name}", daemon=True)
        self.thread.start()

    def submit(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.stats.dropped += 1
            if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                log.warning("plugin %s is behind: %d events dropped", self.name, self.stats.dropped)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while (event := self.queue.get()) is not _STOP:
                self._deliver(loop, event)
            self._close_plugin(loop)
        finally:
            loop.close()

    def _close_plugin(self, loop: asyncio.AbstractEventLoop) -> None:
        """Call the ``close()`` of the object whose ``flush_point`` the plugin is."""
        close = getattr(getattr(self.plugin, "__self__", None), "close", None)
        if not callable(close):
            return
        try:
            result = close()
            if inspect.isawaitable(result):
                loop.run_until_complete(asyncio.wait_for(result, self.timeout))
        except BaseException:  # isolation, as for the events
            log.exception("plugin %s failed to close", self.name)

    def _deliver(self, loop: asyncio.AbstractEventLoop, event: Event) -> None:
        try:
            result = self.plugin(event)
            if inspect.isawaitable(result):
                loop.run_until_complete(asyncio.wait_for(result, self.timeout))
            self.stats.delivered += 1
        except BaseException as error:  # isolation: even CancelledError or SystemExit stays here
            self.stats.failed += 1
            if self.stats.failed == 1:  # its traceback, once; then one line per kind, rate-limited
                log.exception("plugin %s failed on a %s event", self.name, event.series)
            report_error(f"plugin {self.name}", event.series, error)

    def close(self, timeout: float) -> None:
        try:
            self.queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self.thread.join(timeout)


class PluginRunner:
    """Hands every event to every plugin, each on its own thread and bounded queue."""

    def __init__(
        self, plugins: Mapping[str, Plugin], *, queue_size: int = 10_000, timeout: float = 5.0
    ) -> None:
        self._workers = [_Worker(name, p, queue_size, timeout) for name, p in plugins.items()]

    def submit(self, event: Event) -> None:
        """Queue a copy of ``event`` for every plugin; never blocks. Each plugin gets its
        own copy, so none can change what is logged or what another plugin sees."""
        for worker in self._workers:
            worker.submit(Event(event.series, event.time_ns, dict(event.tags), dict(event.fields)))

    @property
    def stats(self) -> dict[str, PluginStats]:
        """Counters per plugin name."""
        return {worker.name: worker.stats for worker in self._workers}

    def close(self, timeout: float = 5.0) -> None:
        """Let every plugin finish its queue (up to ``timeout`` each), then stop."""
        for worker in self._workers:
            worker.close(timeout)


def as_plugin(obj: Any) -> Plugin:
    """A loaded object as a plugin: a class is instantiated (by its ``create_plugin()``
    classmethod if it has one); ``flush_point`` is preferred."""
    if inspect.isclass(obj):
        create = getattr(obj, "create_plugin", None)
        obj = create() if callable(create) else obj()
    method = getattr(obj, "flush_point", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    if callable(obj):
        return obj  # type: ignore[no-any-return]
    raise UsageTypeError(f"{obj!r} is neither callable nor has a flush_point method")


def load_plugins(names: Iterable[str]) -> dict[str, Plugin]:
    """Load plugins by ``"module:attribute"`` or by entry point name."""
    registered = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    plugins: dict[str, Plugin] = {}
    for name in names:
        if ":" in name:
            module, _, attribute = name.partition(":")
            obj = importlib.import_module(module)
            for part in attribute.split("."):
                obj = getattr(obj, part)
        elif name in registered:
            obj = registered[name].load()
        else:
            known = ", ".join(sorted(registered)) or "none"
            raise UsageError(f"no monitoring plugin {name!r} (registered: {known})")
        plugins[name] = as_plugin(obj)
    return plugins
