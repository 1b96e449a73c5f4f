"""The one exception type for mistakes a user can fix.

Every :class:`StanceError` carries a message that says what was wrong, where (``file:line: field``) and
what would be right. The CLI prints it on one line and exits non-zero; library callers can catch it.
"""

from __future__ import annotations


class StanceError(Exception):
    """A user-fixable problem: bad file, bad config key, unknown label, missing model, ..."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        full = message if not self.problems else message + "\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(full)
