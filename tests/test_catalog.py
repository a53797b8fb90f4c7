"""The catalog holds every series, tag and field of both seed documents."""

from __future__ import annotations

import subprocess
import sys

import pytest

from luna_events.catalog import CATALOG, FieldSpec, TagSpec, ValueType
from luna_events.generate import GENERATORS, stale_files

from .conftest import ROOT, shared_file

TASK_TAGS = {"service", "task_id", "subtask_id", "task_type"}

# Transcribed by hand from shared/seeds/luna-tasks-monitoring.txt: series -> (tags, fields).
LUNA_TASKS = {
    "requests": ({"service", "route", "status_code"}, {"request_id", "execution_time"}),
    "errors": ({"service", "route", "status_code", "error_code"}, {"request_id"}),
    "subtask_errors": (TASK_TAGS | {"error_code"}, {"error_code"}),
    "subtask_execution": (
        TASK_TAGS,
        {
            "save_result_time",
            "linked_faces",
            "extracted_descriptors",
            "events",
            "match_time",
            "clusterization_report_build_time",
        },
    ),
    "subtask_final": (TASK_TAGS, {"execution_time"}),
    "worker_queue": (TASK_TAGS, {"transport_time"}),
    "worker_requests": ({"service", "task_id", "subtask_id"}, {"transport_time"}),
}

USAGES = {
    f"{name}_usages"
    for name in [
        "people_counter",
        "face_detector",
        "landmarks68_detector",
        "head_pose_estimator",
        "liveness_estimator",
        "mask_estimator",
        "emotion_estimator",
        "mouth_estimator",
        "eye_estimator",
        "gaze_estimator",
        "glasses_estimator",
        "face_warp_quality_estimator",
        "face_basic_attributes_extractor",
        "face_descriptor_extractor",
        "iso_estimator",
        "face_quality_estimator",
        "body_detector",
        "body_descriptor_extractor",
        "body_basic_attributes_estimator",
        "body_upper_attributes_estimator",
        "body_accessories_estimator",
        "body_lower_attributes_estimator",
        "deepfake_estimator",
    ]
}

PLAIN_ESTIMATORS = [
    "aggregated_basic_attributes",
    "basic_attributes",
    "body_attributes",
    "body_warp",
    "dynamic_range",
    "emotions",
    "eyebrow_expression",
    "eyes",
    "face_detection_background",
    "face_natural_light",
    "face_warp",
    "face_warp_quality",
    "fisheye",
    "gaze_direction",
    "glasses",
    "head_pose",
    "headwear",
    "image_orientation",
    "image_color_type",
    "landmarks17",
    "landmarks5",
    "landmarks68",
    "livenessv1",
    "mask",
    "mouth_state",
    "people_count",
    "portrait_style",
    "red_eyes",
]
DESCRIPTOR_ESTIMATORS = [
    "aggregated_body_descriptor",
    "aggregated_face_descriptor",
    "body_descriptor",
    "face_descriptor",
]
BATCH = {"service", "batch_size"}
TIME = {"execution_time"}


def _detection(kind: str) -> set[str]:
    return {
        f"{kind}_detection_height",
        f"{kind}_detection_width",
        "image_height",
        "image_width",
        "detection_count",
    }


# Transcribed by hand from shared/seeds/luna-remote-sdk-monitoring.txt.
LUNA_REMOTE_SDK = {
    "requests": (
        {"service", "route", "status_code"},
        {"request_id", "execution_time", "load_images_for_processing_time"},
    ),
    "errors": ({"service", "route", "status_code", "error_code"}, {"request_id"}),
    "licensing": ({"service", "license_status"}, {"liveness_balance", "warnings", "errors"}),
    "usages_statistic": ({"service"}, USAGES),
    "sdkloop_task": ({"service", "image_count"}, TIME),
    "image_load": (
        {"service", "format", "exif", "autorotated"},
        {"execution_time", "size", "height", "width"},
    ),
    **{name: (BATCH, TIME) for name in PLAIN_ESTIMATORS},
    **{name: (BATCH | {"descriptor_version"}, TIME) for name in DESCRIPTOR_ESTIMATORS},
    "deepfake": (BATCH | {"mode"}, TIME),
    "body_detection": (BATCH, TIME | _detection("body")),
    "body_redetection": (BATCH, TIME | _detection("body") | {"bbox_width", "bbox_height"}),
    "face_detection": (BATCH, TIME | _detection("face")),
    "face_redetection": (BATCH, TIME | _detection("face") | {"bbox_width", "bbox_height"}),
    "human_detection": (
        BATCH,
        TIME
        | _detection("face")
        | _detection("body")
        | {"face_detection_count", "body_detection_count"},
    ),
}

# Types the seeds state or imply, checked where they matter for InfluxDB's field types.
TYPES = {
    ("requests", "execution_time"): ValueType.FLOAT,
    ("requests", "request_id"): ValueType.STR,
    ("requests", "status_code"): ValueType.INT,
    ("errors", "error_code"): ValueType.INT,
    ("subtask_errors", "error_code"): ValueType.INT,
    ("subtask_execution", "linked_faces"): ValueType.INT,
    ("subtask_execution", "match_time"): ValueType.FLOAT,
    ("subtask_final", "execution_time"): ValueType.FLOAT,
    ("worker_queue", "transport_time"): ValueType.FLOAT,
    ("licensing", "liveness_balance"): ValueType.INT,
    ("licensing", "warnings"): ValueType.STR,
    ("image_load", "size"): ValueType.INT,
    ("image_load", "exif"): ValueType.BOOL,
    ("face_detection", "batch_size"): ValueType.INT,
    ("face_detection", "detection_count"): ValueType.INT,
    ("usages_statistic", "face_detector_usages"): ValueType.INT,
}


def _names(series: str) -> tuple[set[str], set[str]]:
    spec = CATALOG[series]
    return {t.name for t in spec.tags}, {f.name for f in spec.fields}


@pytest.mark.parametrize(
    ("service", "series", "tags", "fields"),
    [("luna-tasks", s, t, f) for s, (t, f) in LUNA_TASKS.items()]
    + [("luna-remote-sdk", s, t, f) for s, (t, f) in LUNA_REMOTE_SDK.items()],
)
def test_every_seed_series_has_every_seed_tag_and_field(service, series, tags, fields):
    assert series in CATALOG, f"{series} is missing"
    catalogued_tags, catalogued_fields = _names(series)
    assert tags <= catalogued_tags, f"{series} lacks tags {tags - catalogued_tags}"
    assert fields <= catalogued_fields, f"{series} lacks fields {fields - catalogued_fields}"
    emitters = CATALOG[series].services
    assert service in emitters or f"{service}-worker" in emitters


def test_the_remote_sdk_has_38_estimator_series_and_23_usage_counters():
    assert len(PLAIN_ESTIMATORS) + len(DESCRIPTOR_ESTIMATORS) + 6 == 38
    estimators = [s for s in CATALOG.values() if s.group == "estimator"]
    assert len(estimators) == 38
    assert len(USAGES) == 23
    assert _names("usages_statistic")[1] == USAGES


@pytest.mark.parametrize(("series", "name"), list(TYPES))
def test_types_follow_the_seeds(series, name):
    spec = CATALOG[series]
    item = spec.field(name) or spec.tag(name)
    assert item is not None
    assert item.type is TYPES[(series, name)]


def test_service_tag_values_follow_the_seeds():
    assert CATALOG["worker_queue"].tag("service").allowed == ("luna-tasks-worker",)  # type: ignore[union-attr]
    assert set(CATALOG["requests"].tag("service").allowed) >= {  # type: ignore[union-attr]
        "luna-tasks",
        "luna-tasks-worker",
        "luna-remote-sdk",
    }
    assert CATALOG["face_detection"].tag("service").allowed == ("luna-remote-sdk",)  # type: ignore[union-attr]


def test_every_tag_and_field_is_typed_and_described():
    for spec in CATALOG.values():
        assert spec.description and spec.services and spec.group
        items: list[TagSpec | FieldSpec] = [*spec.tags, *spec.fields]
        for item in items:
            assert isinstance(item.type, ValueType)
            assert item.description, f"{spec.name}.{item.name} has no description"
        assert any(f.required for f in spec.fields) or spec.name in {
            "licensing",
            "usages_statistic",
            "subtask_execution",
            "event_copy",
            "ws_requests",
        }


def test_the_other_platform_services_are_catalogued():
    assert "luna-api" in CATALOG["requests"].services
    assert CATALOG["requests"].tag("account_id") is not None
    assert CATALOG["event_copy"].services == ("luna-events",)
    assert set(CATALOG["licensing"].tag("license_status").allowed) == {  # type: ignore[union-attr]
        "ok",
        "warning",
        "error",
    }
    assert "ws_requests" in CATALOG


@pytest.mark.parametrize("target", sorted(GENERATORS))
def test_generated_files_are_fresh(target):
    stale = stale_files(ROOT, [target])
    assert not stale, f"stale: {stale}; run `luna-events generate {target}`"


def test_catalog_command_prints_json_and_table():
    command = [sys.executable, "-m", "luna_events.cli", "catalog", "--format", "json"]
    result = subprocess.run(command, capture_output=True, check=True, text=True)
    import json

    data = json.loads(result.stdout)
    assert [s["name"] for s in data] == list(CATALOG)
    assert data[0]["tags"][0]["name"] == "service"
    table = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "catalog", "--series", "worker_queue"],
        capture_output=True,
        check=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert "worker_queue" in table.stdout and "transport_time*: float" in table.stdout


def test_seed_documents_are_the_ones_transcribed():
    tasks = shared_file("seeds/luna-tasks-monitoring.txt")
    sdk = shared_file("seeds/luna-remote-sdk-monitoring.txt")
    text = sdk.read_text(encoding="utf-8").lower()
    for name in [*PLAIN_ESTIMATORS, *DESCRIPTOR_ESTIMATORS, *USAGES]:
        assert name.replace("_", " ") in text.replace("_", " "), name
    assert "clusterization_report_build_time" in tasks.read_text(encoding="utf-8")
