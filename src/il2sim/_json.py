"""Plain JSON values from il2sim's results (manifests, summaries, provenance)."""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["to_json_safe"]


def to_json_safe(value: Any) -> Any:
    """Convert ``value`` to plain JSON types; non-finite floats become ``None``.

    Handles mappings, sequences, sets (sorted), numpy scalars and arrays,
    paths and enums (their ``value``). Anything else is rendered with ``str``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return x if math.isfinite(x) else None
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_json_safe(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [to_json_safe(v) for v in sorted(value, key=str)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, enum.Enum):
        return to_json_safe(value.value)
    return str(value)
