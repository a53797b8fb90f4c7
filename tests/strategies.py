"""Hypothesis strategies for events, with the characters that break naive encoders."""

from __future__ import annotations

import os

from hypothesis import strategies as st

from luna_events.catalog import CATALOG
from luna_events.event import Event, FieldValue


def examples(count: int) -> int:
    """``max_examples`` for a property test: ``count`` in the unit run, which stays under
    a minute, and 20 times as many with ``HYPOTHESIS_PROFILE=deep``."""
    return count * 20 if os.environ.get("HYPOTHESIS_PROFILE") == "deep" else count


REQUESTS = CATALOG["requests"]
NASTY = ",= \"\\\n\r\t'😀\u00e9\u2028\x00{}#"
text = st.text(
    alphabet=st.one_of(
        st.sampled_from(NASTY), st.characters(codec="utf-8"), st.characters(max_codepoint=127)
    ),
    min_size=0,
    max_size=24,
)
keys = st.text(
    alphabet=st.one_of(st.sampled_from(NASTY), st.characters(codec="utf-8")),
    min_size=1,
    max_size=16,
)
floats = st.floats(allow_nan=False, allow_infinity=False)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@st.composite
def request_events(draw: st.DrawFn, time_ns: int) -> Event:
    """A ``requests`` event with arbitrary extra tags, extra fields and string values."""
    tags: dict[str, object] = {
        "service": draw(st.sampled_from(["luna-tasks", "luna-remote-sdk"])),
        "route": "GET:/" + draw(st.text(alphabet="abc{}/_-", max_size=12)),
        "status_code": draw(st.integers(100, 599)),
    }
    extra_tag_keys = keys.filter(lambda key: key not in tags and not REQUESTS.tag(key))
    tags.update(
        draw(
            st.dictionaries(
                extra_tag_keys, st.one_of(text, ints, floats, st.booleans()), max_size=4
            )
        )
    )
    fields: dict[str, object] = {
        "request_id": draw(text),
        "execution_time": draw(st.one_of(floats, st.integers(-(2**53), 2**53))),
    }
    extra_field_keys = keys.filter(lambda key: key not in fields and not REQUESTS.field(key))
    fields.update(
        draw(
            st.dictionaries(
                extra_field_keys, st.one_of(text, floats, st.booleans(), ints), max_size=4
            )
        )
    )
    return Event("requests", time_ns, tags, fields)  # type: ignore[arg-type]


@st.composite
def counter_events(draw: st.DrawFn, time_ns: int) -> Event:
    """A ``usages_statistic`` event: catalogued int fields over the whole int64 range."""
    names = ["face_detector_usages", "mask_estimator_usages", "iso_estimator_usages"]
    fields: dict[str, FieldValue] = {
        name: draw(ints) for name in draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    }
    extra = draw(st.dictionaries(keys, text, max_size=2))
    return Event("usages_statistic", time_ns, {**extra, "service": "luna-remote-sdk"}, fields)
