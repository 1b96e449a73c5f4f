"""What a cell means, decided once: missing values, text identity, and phenomena tags."""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any


def is_missing(value: Any) -> bool:
    """None, NaN (pandas' empty cell) or a blank string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def normalize_text(text: str) -> str:
    """The form in which two texts count as the same (duplicates, leakage, train/test overlap):
    whitespace collapsed, case folded."""
    return " ".join(text.split()).casefold()


def parse_tags(value: Any) -> list[str]:
    """Phenomena tags as a list, whether stored as a list, a JSON/Python list literal (a CSV cell such as
    ``["headline","negation"]``) or ``a;b|c`` / ``a, b`` text; blanks dropped, order and duplicates kept."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
            except (ValueError, SyntaxError):
                continue
            if isinstance(parsed, (list, tuple)):
                return [str(v).strip() for v in parsed if str(v).strip()]
    return [tag.strip() for tag in re.split(r"[,;|]", text) if tag.strip()]
