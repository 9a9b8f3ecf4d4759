"""User-facing errors.

Every mistake a user can make (a bad option, an out-of-range value, a malformed
scenario file, an existing output directory) is raised as :class:`UserError`.
The library names the Python field at fault (``n_patients``,
``arms[1].parameters kill_max``); the CLI maps it to its flag
(``--patients``, ``--param kill_max``) and prints exactly one line,
``error: <flag>: got <received>, expected <expected>``, exiting with status
2. The Python API lets it propagate as a ``ValueError`` subclass.
"""

from __future__ import annotations

__all__ = ["UserError", "require_integers"]


def _short(value: object, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UserError(ValueError):
    """A mistake in user input, reported on one line.

    Parameters
    ----------
    field
        The Python field, file key or argument at fault (``"n_patients"``,
        ``"block[2].count"``).
    received
        What the user gave. Rendered with ``repr`` and shortened.
    expected
        Plain-language description of what is accepted.
    """

    def __init__(self, field: str, received: object, expected: str) -> None:
        self.field = field
        self.received = received
        self.expected = expected
        super().__init__(f"{field}: got {_short(received)}, expected {expected}")


def require_integers(*checks: tuple[str, object, int, int]) -> None:
    """Raise :class:`UserError` for the first ``(field, value, lo, hi)`` whose value is not an integer in [lo, hi]."""
    for name, value, lo, hi in checks:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise UserError(name, value, f"an integer from {lo} to {hi}")
