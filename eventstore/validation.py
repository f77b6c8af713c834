"""Argument checks shared by every backend: bad input is refused before anything is written."""

from __future__ import annotations

from .errors import ConcurrencyError, StoreError
from .model import ANY, NO_STREAM, ExpectedVersion, NewEvent


def check_event(event: object) -> None:
    if not isinstance(event, NewEvent):
        raise StoreError(f"append takes NewEvent values, not {type(event).__name__}")
    if not isinstance(event.type, str) or not event.type:
        raise StoreError(f"an event type must be a non-empty string, not {event.type!r}")
    if type(event.schema_version) is not int or event.schema_version < 1:
        check_int("schema_version", event.schema_version, minimum=1)


def check_expected_form(expected: object) -> None:
    if expected is ANY or expected is NO_STREAM:
        return
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise StoreError(f"expected_version must be an int >= 0, ANY or NO_STREAM, not {expected!r}")


def check_expected(stream_id: str, expected: ExpectedVersion, current: int) -> None:
    if expected is ANY:
        return
    if expected is NO_STREAM:
        if current != 0:
            raise ConcurrencyError(stream_id, "no stream", current)
        return
    check_expected_form(expected)
    if expected != current:
        raise ConcurrencyError(stream_id, expected, current)


def check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StoreError(f"{name} must be an integer >= {minimum}, not {value!r}")


def check_limit(limit: object) -> None:
    if limit is not None:
        check_int("limit", limit, minimum=0)


def stream_start(after: int, from_version: int | None) -> int:
    """``after`` of a stream read, from either spelling (``from_version=n`` is ``after=n-1``)."""
    if from_version is None:
        check_int("after", after, minimum=0)
        return after
    if after:
        raise StoreError("give either after or from_version, not both")
    check_int("from_version", from_version, minimum=0)
    return max(from_version - 1, 0)
