"""What a projection handler reads of a recorded event.

The domain may not import ``eventstore``, so handlers are typed against this
protocol; ``eventstore.RecordedEvent`` and ``UpcastEvent`` both satisfy it.
Read-only properties, because both are named tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Recorded(Protocol):
    @property
    def position(self) -> int: ...

    @property
    def stream_id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def type(self) -> str: ...

    @property
    def schema_version(self) -> int: ...

    @property
    def data(self) -> Mapping[str, Any]: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...

    @property
    def recorded_at(self) -> float: ...
