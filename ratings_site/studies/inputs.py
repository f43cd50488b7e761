"""Reading whole numbers from what a rater or an API client sends.

One job. Decisions (issue 12, defects 1 and 14):

- Only ASCII digits count. Python's `int()` and `str.isdigit()` also take Arabic-Indic ("٣"),
  full-width ("５") and other Unicode digits, and `isdigit()` even takes superscripts ("²") that
  `int()` then refuses. The rating page sends ASCII from its buttons and keys, the API
  documents integers, and one spelling per value keeps stored data and logs unambiguous, so
  anything else is refused with the same clear message as any non-number.
- A JSON number must be a whole number: 7.0 is refused, as is true/false.
- Ids are checked against PostgreSQL's bigint before they reach a query, so an id beyond it
  is a 400 with a reason, not a DataError.
"""
from __future__ import annotations

import numbers
import re

BIGINT_MAX = 2**63 - 1
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]{1,30}\Z")


def whole_number_parse(raw) -> int | None:
    """The integer `raw` spells, or None when it is not a whole number in ASCII digits."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, numbers.Integral):
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if _ASCII_INTEGER.match(text):
            return int(text)
    return None


def id_in_range(value: int) -> bool:
    return 1 <= value <= BIGINT_MAX
