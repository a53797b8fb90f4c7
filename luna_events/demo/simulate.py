"""Simulated traffic of luna-tasks (API and workers) and luna-remote-sdk.

Deterministic for a given seed. Each request yields the events the real services
emit for it: ``requests`` and ``errors`` for the HTTP side, the subtask lifecycle of
the tasks it starts, and image loads, estimator calls and usage counters on the SDK.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from luna_events import series
from luna_events.catalog.luna_remote_sdk import ESTIMATORS, USAGE_COUNTERS
from luna_events.event import Event, route

TASK_TYPES = {
    1: "clustering",
    2: "reporter",
    3: "exporter",
    4: "cross_matching",
    5: "linker",
    6: "estimator",
    7: "additional_extract",
    8: "garbage_collection",
}

TASKS_ROUTES = (
    ("POST", "/tasks/clustering", 201, 1),
    ("POST", "/tasks/linker", 201, 5),
    ("POST", "/tasks/gc", 201, 8),
    ("POST", "/tasks/cross_match", 201, 4),
    ("POST", "/tasks/additional_extract", 201, 7),
    ("GET", "/tasks/{task_id}", 200, None),
    ("GET", "/tasks", 200, None),
    ("GET", "/tasks/{task_id}/subtasks", 200, None),
    ("DELETE", "/tasks/{task_id}", 204, None),
    ("GET", "/version", 200, None),
    ("GET", "/healthcheck", 200, None),
)
SDK_ROUTES = (("POST", "/sdk"), ("POST", "/iso"), ("GET", "/version"), ("GET", "/healthcheck"))
FAILURES = ((400, 12002), (400, 12031), (404, 22002), (500, 1), (503, 33003))
IMAGE_FORMATS = ("JPEG", "JPEG", "JPEG", "PNG", "BMP", "TIFF")
DESCRIPTOR_VERSIONS = (59, 62, 65)
DETECTORS = ("face_detection", "body_detection", "human_detection")


@dataclass
class Traffic:
    """Knobs of the simulation."""

    start_ns: int
    duration_s: float = 60.0
    requests_per_second: float = 40.0
    error_rate: float = 0.06
    seed: int = 5


class Simulator:
    """Yields events in time order for :class:`Traffic`."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self.rng = random.Random(traffic.seed)
        self._task_ids = iter(range(1000, 10**9))
        self._subtask_ids = iter(range(1, 10**9))

    def events(self) -> Iterator[Event]:
        """Every event of the run, sorted by time."""
        batch: list[Event] = []
        total = int(self.traffic.duration_s * self.traffic.requests_per_second)
        step = int(1e9 / self.traffic.requests_per_second)
        for index in range(total):
            at = self.traffic.start_ns + index * step + self.rng.randrange(step)
            if self.rng.random() < 0.45:
                batch.extend(self._tasks_request(at))
            else:
                batch.extend(self._sdk_request(at))
        batch.sort(key=lambda event: event.time_ns)
        yield from batch

    # luna-tasks -----------------------------------------------------------------

    def _latency(self, median: float) -> float:
        return round(self.rng.lognormvariate(0, 0.6) * median, 6)

    def _http(self, service: str, method: str, resource: str, ok: int, at: int) -> list[Event]:
        failed = self.rng.random() < self.traffic.error_rate
        status, code = self.rng.choice(FAILURES) if failed else (ok, 0)
        request_id = f"{at // 10**9},{uuid.UUID(int=self.rng.getrandbits(128))}"
        events = [
            series.requests(
                service=service,
                route=route(method, resource),
                status_code=status,
                request_id=request_id,
                execution_time=self._latency(0.012 if method == "GET" else 0.045),
                time_ns=at,
            )
        ]
        if failed:
            events.append(
                series.errors(
                    service=service,
                    route=route(method, resource),
                    status_code=status,
                    error_code=code,
                    request_id=request_id,
                    time_ns=at,
                )
            )
        return events

    def _tasks_request(self, at: int) -> list[Event]:
        method, resource, ok, task_type = self.rng.choice(TASKS_ROUTES)
        events = self._http("luna-tasks", method, resource, ok, at)
        if task_type is not None and events[0].tags["status_code"] == ok:
            events.extend(self._task(task_type, at))
        return events

    def _task(self, task_type: int, at: int) -> list[Event]:
        task_id = next(self._task_ids)
        events: list[Event] = []
        clock = at
        for _ in range(self.rng.randint(1, 4)):
            subtask_id = next(self._subtask_ids)
            send = self._latency(0.004)
            clock += int(send * 1e9)
            events.append(
                series.worker_requests(
                    task_id=task_id, subtask_id=subtask_id, transport_time=send, time_ns=clock
                )
            )
            queue = self._latency(0.02)
            clock += int(queue * 1e9)
            events.append(
                series.worker_queue(
                    task_id=task_id,
                    subtask_id=subtask_id,
                    task_type=task_type,
                    transport_time=queue,
                    time_ns=clock,
                )
            )
            execution = series.subtask_execution(
                task_id=task_id, subtask_id=subtask_id, task_type=task_type, time_ns=clock + 1
            )
            execution.fields.update(self._subtask_fields(task_type))
            events.append(execution)
            duration = self._latency(0.8)
            clock += int(duration * 1e9)
            failed = self.rng.random() < 0.05
            if failed:
                events.append(
                    series.subtask_errors(
                        task_id=task_id,
                        subtask_id=subtask_id,
                        task_type=task_type,
                        error_code=27001,
                        time_ns=clock,
                    )
                )
            events.append(
                series.subtask_final(
                    task_id=task_id,
                    subtask_id=subtask_id,
                    task_type=task_type,
                    execution_time=duration,
                    status=2 if failed else 1,
                    time_ns=clock + 1,
                )
            )
        return events

    def _subtask_fields(self, task_type: int) -> dict[str, float | int]:
        fields: dict[str, float | int] = {"save_result_time": self._latency(0.01)}
        if task_type == 5:
            fields["linked_faces"] = self.rng.randint(0, 500)
        elif task_type == 7:
            fields["extracted_descriptors"] = self.rng.randint(0, 2000)
        elif task_type == 8:
            fields["events"] = self.rng.randint(0, 10000)
        elif task_type == 4:
            fields["match_time"] = self._latency(0.3)
        elif task_type == 2:
            fields["clusterization_report_build_time"] = self._latency(1.5)
        return fields

    # luna-remote-sdk --------------------------------------------------------------

    def _sdk_request(self, at: int) -> list[Event]:
        method, resource = self.rng.choices(SDK_ROUTES, weights=(70, 15, 10, 5))[0]
        ok = 200
        events = self._http("luna-remote-sdk", method, resource, ok, at)
        request = events[0]
        if method != "POST" or request.tags["status_code"] != ok:
            return events
        images = self.rng.choices((1, 2, 4, 8), weights=(70, 15, 10, 5))[0]
        load_total = 0.0
        for image in range(images):
            load = self._latency(0.006)
            load_total += load
            events.append(
                series.image_load(
                    format=self.rng.choice(IMAGE_FORMATS),
                    exif=self.rng.random() < 0.3,
                    autorotated=self.rng.random() < 0.1,
                    execution_time=load,
                    size=self.rng.randint(20_000, 3_000_000),
                    height=self.rng.choice((480, 720, 1080, 2160)),
                    width=self.rng.choice((640, 1280, 1920, 3840)),
                    time_ns=at + image * 1000,
                )
            )
        request.fields["load_images_for_processing_time"] = round(load_total, 6)
        events.append(
            series.sdkloop_task(
                image_count=images, execution_time=self._latency(0.05 * images), time_ns=at + 1
            )
        )
        chosen = self._estimators(resource)
        for name in chosen:
            events.append(self._estimation(name, images, at + 2))
        usages = series.usages_statistic(time_ns=at + 3)
        for name, _ in self.rng.sample(USAGE_COUNTERS, 4):
            usages.fields[name] = self.rng.randint(1, images)
        events.append(usages)
        if self.rng.random() < 0.01:
            events.append(
                series.licensing(
                    service="luna-remote-sdk",
                    license_status="warning",
                    liveness_balance=self.rng.randint(0, 900),
                    warnings="liveness balance is running low",
                    time_ns=at + 4,
                )
            )
        return events

    def _estimators(self, resource: str) -> list[str]:
        names = [name for name, _, _ in ESTIMATORS if name not in DETECTORS]
        picked = self.rng.sample(names, self.rng.randint(2, 6))
        detector = "face_detection" if resource == "/iso" else self.rng.choice(DETECTORS)
        return [detector, *picked]

    def _estimation(self, name: str, batch_size: int, at: int) -> Event:
        _, extra_tags, extra_fields = next(e for e in ESTIMATORS if e[0] == name)
        values: dict[str, str | float | int] = {
            "batch_size": batch_size,
            "execution_time": self._latency(0.004 * batch_size),
        }
        for tag in extra_tags:
            values[tag.name] = (
                self.rng.choice(DESCRIPTOR_VERSIONS)
                if tag.name == "descriptor_version"
                else "default"
            )
        detections = self.rng.randint(0, 5)
        for field in extra_fields:
            if field.name.endswith("_count"):
                values[field.name] = detections
            elif field.name.startswith("image_"):
                values[field.name] = 1080 if "height" in field.name else 1920
            else:
                values[field.name] = round(self.rng.uniform(40, 400), 2)
        constructor: Callable[..., Event] = getattr(series, name)
        return constructor(time_ns=at, **values)
