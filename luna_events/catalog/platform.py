"""Series of the other LUNA PLATFORM services, beyond the two seed documents.

Each service is a few declarations; ``requests`` and ``errors`` merge with the
declarations of the other services (see :func:`luna_events.catalog.build.merge`).
"""

from __future__ import annotations

from luna_events.catalog.build import count, field, seconds, series, tag
from luna_events.catalog.common import errors_series, licensing_series, requests_series
from luna_events.catalog.model import SeriesSpec, ValueType

API = "luna-api"
HANDLERS = "luna-handlers"
EVENTS = "luna-events"
LICENSES = "luna-licenses"
SENDER = "luna-sender"


SERIES: tuple[SeriesSpec, ...] = (
    requests_series(
        (API,),
        extra_tags=(tag("account_id", ValueType.STR, "account id", required=False),),
        extra_fields=(
            seconds("task_execution_time", "time spent in a task started by the request"),
            seconds("detector_queue_transport_time", "time in the detector queue"),
            seconds("extractor_queue_transport_time", "time in the extractor queue"),
        ),
    ),
    errors_series((API,)),
    requests_series(
        (HANDLERS,),
        extra_tags=(
            tag("handler_id", ValueType.STR, "handler id", required=False),
            tag("verifier_id", ValueType.STR, "verifier id", required=False),
        ),
        extra_fields=(
            seconds("download_images_time", "time to download the request's images"),
            seconds("save_warps_time", "time to save warps"),
        ),
    ),
    errors_series((HANDLERS,)),
    requests_series((EVENTS, LICENSES, SENDER)),
    errors_series((EVENTS, LICENSES, SENDER)),
    series(
        "event_copy",
        "events copied from one storage to another",
        (EVENTS,),
        (
            tag(
                "status",
                ValueType.INT,
                "1 when the copy succeeded, 0 when it failed",
                allowed=("0", "1"),
            ),
        ),
        (
            seconds("copy_time", "time the copy took"),
            count("event_count", "events copied"),
        ),
        group="platform",
    ),
    licensing_series(
        (LICENSES,),
        ("ok", "warning", "error"),
        (count("license_period_rest", "days left in the license period"),),
    ),
    series(
        "ws_requests",
        "a message pushed to a websocket subscriber",
        (SENDER,),
        (tag("account_id", ValueType.STR, "account id"),),
        (
            seconds("transport_time", "time from the event to the websocket send"),
            field("request_id", ValueType.STR, "request id of the originating request"),
        ),
        group="platform",
    ),
)
