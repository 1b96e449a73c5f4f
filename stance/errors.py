"""The one exception type for mistakes a user can fix.

Every :class:`StanceError` carries a message that says what was wrong, where (``file:line: field``) and
what would be right. The CLI prints it on one line and exits 2; library callers can catch it. Errors that
wrap a library's exception keep it as ``__cause__`` (``raise StanceError(...) from exc``): the CLI shows
that original traceback with ``--debug`` or ``STANCE_DEBUG=1``.
"""

from __future__ import annotations

import os


class StanceError(Exception):
    """A user-fixable problem: bad file, bad config key, unknown label, missing model, ..."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        full = message if not self.problems else message + "\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(full)


def debug_enabled() -> bool:
    """``STANCE_DEBUG`` set to anything but empty/0/false: show wrapped errors' original tracebacks."""
    return os.environ.get("STANCE_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
