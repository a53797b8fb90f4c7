"""Series of luna-remote-sdk (seed: luna-remote-sdk monitoring page)."""

from __future__ import annotations

from luna_events.catalog.build import count, field, seconds, series, tag
from luna_events.catalog.common import errors_series, licensing_series, requests_series
from luna_events.catalog.model import FieldSpec, SeriesSpec, TagSpec, Unit, ValueType

SDK = "luna-remote-sdk"
SERVICES = (SDK,)
ESTIMATOR = "estimator"
SDK_GROUP = "sdk"

USAGE_COUNTERS: tuple[tuple[str, str], ...] = (
    ("people_counter_usages", "people counter estimator"),
    ("face_detector_usages", "face detector"),
    ("landmarks68_detector_usages", "landmarks68 detector"),
    ("head_pose_estimator_usages", "head pose estimator"),
    ("liveness_estimator_usages", "liveness estimator"),
    ("mask_estimator_usages", "mask estimator"),
    ("emotion_estimator_usages", "emotion estimator"),
    ("mouth_estimator_usages", "mouth estimator"),
    ("eye_estimator_usages", "eye estimator"),
    ("gaze_estimator_usages", "gaze estimator"),
    ("glasses_estimator_usages", "glasses estimator"),
    ("face_warp_quality_estimator_usages", "face warp quality estimator"),
    ("face_basic_attributes_extractor_usages", "face basic attributes extractor"),
    ("face_descriptor_extractor_usages", "face descriptor extractor"),
    ("iso_estimator_usages", "iso estimator"),
    ("face_quality_estimator_usages", "face quality estimator"),
    ("body_detector_usages", "body detector estimator"),
    ("body_descriptor_extractor_usages", "body descriptor extractor"),
    ("body_basic_attributes_estimator_usages", "body basic attribute estimator"),
    ("body_upper_attributes_estimator_usages", "body upper attribute estimator"),
    ("body_accessories_estimator_usages", "body accessory estimator"),
    ("body_lower_attributes_estimator_usages", "body lower attribute estimator"),
    ("deepfake_estimator_usages", "deepfake estimator"),
)


def _pixels(name: str, description: str) -> FieldSpec:
    return field(name, ValueType.FLOAT, description, unit=Unit.PIXELS)


def _image_size() -> tuple[FieldSpec, ...]:
    return (
        field("image_height", ValueType.INT, "image height", unit=Unit.PIXELS),
        field("image_width", ValueType.INT, "image width", unit=Unit.PIXELS),
    )


def _detections(kind: str) -> tuple[FieldSpec, ...]:
    return (
        _pixels(f"{kind}_detection_height", f"{kind} detection height"),
        _pixels(f"{kind}_detection_width", f"{kind} detection width"),
    )


_BBOX = (_pixels("bbox_width", "bbox width"), _pixels("bbox_height", "bbox height"))
_DETECTION_COUNT = count("detection_count", "detection count")
_DESCRIPTOR_VERSION = tag("descriptor_version", ValueType.INT, "descriptor version")
_MODE = tag("mode", ValueType.STR, "estimation mode")

ESTIMATORS: tuple[tuple[str, tuple[TagSpec, ...], tuple[FieldSpec, ...]], ...] = (
    ("aggregated_basic_attributes", (), ()),
    ("aggregated_body_descriptor", (_DESCRIPTOR_VERSION,), ()),
    ("aggregated_face_descriptor", (_DESCRIPTOR_VERSION,), ()),
    ("basic_attributes", (), ()),
    ("body_attributes", (), ()),
    ("body_descriptor", (_DESCRIPTOR_VERSION,), ()),
    ("body_detection", (), (*_detections("body"), *_image_size(), _DETECTION_COUNT)),
    ("body_redetection", (), (*_detections("body"), *_image_size(), _DETECTION_COUNT, *_BBOX)),
    ("body_warp", (), ()),
    ("deepfake", (_MODE,), ()),
    ("dynamic_range", (), ()),
    ("emotions", (), ()),
    ("eyebrow_expression", (), ()),
    ("eyes", (), ()),
    ("face_descriptor", (_DESCRIPTOR_VERSION,), ()),
    ("face_detection", (), (*_detections("face"), *_image_size(), _DETECTION_COUNT)),
    ("face_detection_background", (), ()),
    ("face_natural_light", (), ()),
    ("face_redetection", (), (*_detections("face"), *_image_size(), _DETECTION_COUNT, *_BBOX)),
    ("face_warp", (), ()),
    ("face_warp_quality", (), ()),
    ("fisheye", (), ()),
    ("gaze_direction", (), ()),
    ("glasses", (), ()),
    ("head_pose", (), ()),
    ("headwear", (), ()),
    (
        "human_detection",
        (),
        (
            *_detections("face"),
            *_detections("body"),
            *_image_size(),
            _DETECTION_COUNT,
            count("face_detection_count", "face detection count"),
            count("body_detection_count", "body detection count"),
        ),
    ),
    ("image_orientation", (), ()),
    ("image_color_type", (), ()),
    ("landmarks17", (), ()),
    ("landmarks5", (), ()),
    ("landmarks68", (), ()),
    ("livenessv1", (), ()),
    ("mask", (), ()),
    ("mouth_state", (), ()),
    ("people_count", (), ()),
    ("portrait_style", (), ()),
    ("red_eyes", (), ()),
)


def _estimator(name: str, tags: tuple[TagSpec, ...], fields: tuple[FieldSpec, ...]) -> SeriesSpec:
    what = name.replace("_", " ")
    return series(
        name,
        f"one {what} estimation call over a batch",
        SERVICES,
        (tag("batch_size", ValueType.INT, "batch size of the estimation", unit=Unit.COUNT), *tags),
        (seconds("execution_time", "estimation time", required=True), *fields),
        group=ESTIMATOR,
    )


SERIES: tuple[SeriesSpec, ...] = (
    requests_series(
        SERVICES,
        extra_fields=(
            seconds(
                "load_images_for_processing_time",
                "time taken to load images for processing (POST:/sdk and POST:/iso)",
            ),
        ),
    ),
    errors_series(SERVICES),
    licensing_series(
        SERVICES,
        ("warning", "error"),
        (count("liveness_balance", "liveness estimations left before the license expires"),),
    ),
    series(
        "usages_statistic",
        "estimations performed by one request, per estimator",
        SERVICES,
        (),
        tuple(count(name, f"{what} usages count") for name, what in USAGE_COUNTERS),
        group=SDK_GROUP,
    ),
    series(
        "sdkloop_task",
        "one SDK task over the images of a request",
        SERVICES,
        (tag("image_count", ValueType.INT, "number of images in the request", unit=Unit.COUNT),),
        (seconds("execution_time", "task execution time", required=True),),
        group=SDK_GROUP,
    ),
    series(
        "image_load",
        "one image loaded for processing",
        SERVICES,
        (
            tag("format", ValueType.STR, "image format, e.g. JPEG, PNG"),
            tag("exif", ValueType.BOOL, "whether EXIF loading is on"),
            tag("autorotated", ValueType.BOOL, "whether autorotation is on"),
        ),
        (
            seconds("execution_time", "image loading time", required=True),
            field("size", ValueType.INT, "image size", unit=Unit.BYTES),
            field("height", ValueType.INT, "image height", unit=Unit.PIXELS),
            field("width", ValueType.INT, "image width", unit=Unit.PIXELS),
        ),
        group=SDK_GROUP,
    ),
    *(_estimator(name, tags, fields) for name, tags, fields in ESTIMATORS),
)
