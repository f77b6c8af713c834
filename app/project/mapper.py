"""The one mapping between domain events and the store's records.

The domain speaks in event classes; the store keeps opaque records. Every write of a
domain event goes through ``to_record`` and every typed read through ``from_record``, so
no other module builds a ``NewEvent`` from an event by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from domain.events import Event, EventRegistry
from eventstore import NewEvent, RecordedEvent


def to_record(event: Event, metadata: Mapping[str, Any]) -> NewEvent:
    """The record that stores ``event`` (at its current schema version)."""
    return NewEvent(event.type_name, event.to_data(), dict(metadata), event.schema_version)


def to_records(events: Iterable[Event], metadata: Mapping[str, Any]) -> list[NewEvent]:
    return [to_record(event, metadata) for event in events]


def from_record(record: RecordedEvent, registry: EventRegistry) -> Event:
    """The domain event a record holds, upcast to the current schema version.

    Raises ``DomainError`` for a type or version this release does not know.
    """
    return registry.decode(record.type, record.schema_version, record.data)
