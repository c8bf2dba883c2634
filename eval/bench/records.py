"""Records: what every section's result has in common, and how one becomes JSON in the run record.

result.metrics      # its flat figures, merged into run["metrics"]: {"load.embedder_s": 0.06, …}
result.to_json()    # its own record, run["sections"][name]: {"embedder_runs_s": [4.93, 0.09, 0.06], …}
json_fields(ColdStartRun(10.9, 9.6, 0.3, 9.3, 2230.8), "wall_s", "ready_s") == {"wall_s": 10.9, "ready_s": 9.6}
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol


class SectionResult(Protocol):
    @property
    def metrics(self) -> dict[str, Any]:
        """Flat metric keys ("answer.ttft_ms.p50") to numbers (or, rarely, a name such as ann.hnsw.type)."""
        ...

    def to_json(self) -> dict[str, Any]:
        """The section's record in the run's JSON, in the shape earlier runs saved (so --compare reads both)."""
        ...


def json_fields(record: Any, *names: str) -> dict[str, Any]:
    """The named fields of a dataclass, nested records as dicts and tuples as lists, leaving out None ones
    at every level (an optional field that was absent from the JSON before stays absent)."""
    out = {}
    for name in names:
        value = getattr(record, name)
        if value is not None:
            out[name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_fields(value, *(f.name for f in dataclasses.fields(value)))
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
