"""Turning mapped customers into a safe `customers_batch` form: header order, per-batch
delimiter choice, value cleaning and `profiles_data` encoding. Pure functions.

The API documents no quoting or escaping: a value that contains the delimiter, CR or LF
would shift or split its row. So a line break inside a value becomes a space, and each batch
uses a delimiter that no value in it contains (pipe, comma or tab, the configured one first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Optional, Sequence

from destination_common import normalise_date as common_normalise_date

# Header names the API allows besides custom_field_N, in the order headers are numbered.
STANDARD_FIELDS: tuple[str, ...] = (
    "code",
    "card_number",
    "first_name",
    "last_name",
    "email",
    "phone",
    "custom_date",
    "street1",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "customer_username",
    "customer_password",
    "customer_PIN",
    "auto_add",
)
_STANDARD_INDEX: dict[str, int] = {name: i for i, name in enumerate(STANDARD_FIELDS)}  # name → its place
CUSTOM_FIELD = re.compile(r"^custom_field_(\d+)$")
DELIMITERS: dict[str, str] = {"pipe": "|", "comma": ",", "tab": "\t"}
LINE_BREAKS = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x0b|\x0c|\x85")


def is_header(name: str) -> bool:
    return name in _STANDARD_INDEX or bool(CUSTOM_FIELD.match(name))


def header_sort_key(name: str) -> tuple[int, int]:
    index = _STANDARD_INDEX.get(name)
    if index is not None:
        return (0, index)
    m = CUSTOM_FIELD.match(name)
    if m:
        return (1, int(m.group(1)))
    raise ValueError(f"'{name}' is not a customers_batch header")


def build_headers(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The batch's headers: every field that some row of the batch has, standard fields in
    the documented order, then custom fields by number."""
    names: set[str] = set()
    for row in rows:
        names.update(row)
    return sorted(names, key=header_sort_key)


def header_params(headers: Sequence[str]) -> dict[str, str]:
    """`profiles_header_1..N`, numbered without gaps (the API allows a gap of one at most)."""
    if not headers:
        raise ValueError("a batch needs at least one header")
    return {f"profiles_header_{i}": name for i, name in enumerate(headers, 1)}


@dataclass
class Cleaned:
    value: str
    line_breaks: int = 0


def clean_value(value: Any) -> Cleaned:
    """A value as the text the API gets: None → "", bool → "1"/"0", numbers as written,
    line breaks (CR, LF, CRLF and Unicode line separators) → one space each, surrounding
    white space kept off (the API strips it anyway)."""
    return Cleaned(*clean_text(value))


def clean_text(value: Any) -> tuple[str, int]:
    """`clean_value` as a (text, line breaks replaced) pair, without the Cleaned object (the
    per-record path: every field of every record goes through it)."""
    if value.__class__ is str:  # most values: text as given
        if value.isprintable():  # every line break (CR, LF, VT, FF, NEL, U+2028/9) is unprintable
            return value.strip(), 0
        text = value
    elif value is None:
        return "", 0
    elif isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, (datetime, date)):
        text = value.isoformat()
    else:
        text = str(value)
    text, n = LINE_BREAKS.subn(" ", text)
    return text.strip(), n


def choose_delimiter(rows: Iterable[Mapping[str, str]], preferred: str = "pipe") -> Optional[str]:
    """The first of `preferred`, pipe, comma, tab that no value of the batch contains; None when
    every one is used (the caller splits or rejects)."""
    # every value of the batch in one text, joined by NUL (no delimiter): a delimiter is in the
    # text exactly when some value contains it
    text = "\0".join(["\0".join(row.values()) for row in rows])
    used = {name for name, char in DELIMITERS.items() if char in text}
    for name in [preferred] + [n for n in DELIMITERS if n != preferred]:
        if name not in used:
            return name
    return None


def usable_delimiters(row: Mapping[str, str]) -> list[str]:
    """Delimiters none of the row's values contain (empty: the row cannot be sent at all)."""
    return [name for name, char in DELIMITERS.items() if not any(char in v for v in row.values())]


def encode_rows(rows: Sequence[Mapping[str, str]], headers: Sequence[str], delimiter: str) -> str:
    """`profiles_data`: one line per row, values in header order joined by the delimiter,
    each line ended by `\\n`. Refuses (ValueError) a value that would corrupt its row."""
    char = DELIMITERS[delimiter]
    joins = len(headers) - 1  # delimiters the join itself puts in a line
    lines = []
    for row in rows:
        line = char.join([row.get(h, "") for h in headers])
        # a value held the delimiter (the line has more than the join put in), or a line break
        # (the delimiters are no line breaks, so a break in the line is one inside a value)
        if line.count(char) != joins or (not line.isprintable() and LINE_BREAKS.search(line)):
            raise ValueError("a value contains the delimiter or a line break")
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Plan:
    """One customers_batch request: its rows (indexes into the batch), headers and delimiter."""

    indexes: list[int]
    headers: list[str]
    delimiter: str
    data: str = field(repr=False, default="")
    body: Optional[str] = field(repr=False, default=None)  # the request's form, encoded by prepare()


def plan_requests(rows: Sequence[Mapping[str, str]], preferred: str, *, group_by_fields: bool) -> list[Plan]:
    """Split a batch into requests. With `group_by_fields` (update mode) rows are grouped by
    the set of fields they have, so a field a row lacks is never sent blank (which would clear
    it). A group whose values use every delimiter is split further by usable delimiter (rows
    that can use none are the caller's to reject before). Row order within a request is kept."""
    groups: dict[tuple[str, ...], list[int]] = {}
    if group_by_fields:
        field_sets: dict[tuple[str, ...], tuple[str, ...]] = {}  # fields as the row has them → sorted
        for i, row in enumerate(rows):
            fields = tuple(row)
            key = field_sets.get(fields)
            if key is None:
                key = field_sets[fields] = tuple(sorted(fields, key=header_sort_key))
            groups.setdefault(key, []).append(i)
    else:
        groups[()] = list(range(len(rows)))
    plans: list[Plan] = []
    for indexes in groups.values():
        pending = list(indexes)
        while pending:
            chosen = choose_delimiter((rows[i] for i in pending), preferred)
            if chosen is None:
                # pick the delimiter most rows can use, send those now, the rest next round
                counts = {d: 0 for d in DELIMITERS}
                for i in pending:
                    for d in usable_delimiters(rows[i]):
                        counts[d] += 1
                order = [preferred] + [d for d in DELIMITERS if d != preferred]
                chosen = max(order, key=lambda d: counts[d])
                now = [i for i in pending if chosen in usable_delimiters(rows[i])]
                pending = [i for i in pending if i not in set(now)]
            else:
                now, pending = pending, []
            headers = build_headers(rows[i] for i in now)
            plans.append(Plan(now, headers, chosen, encode_rows([rows[i] for i in now], headers, chosen)))
    return plans


def normalise_date(value: Any) -> Optional[str]:
    """custom_date as `YYYY-MM-DD` (destination_common's normalise_date: date/datetime, ISO
    8601 date or date-time with the date as written, `YYYY/MM/DD`, `DD.MM.YYYY` with or
    without a time, `YYYYMMDD`; None/"" → None). Ambiguous slash forms (`04/03/2010`) are
    refused (ValueError): the API's own documentation refuses to guess day/month order."""
    try:
        return common_normalise_date(value, slash_day_first=False)
    except ValueError:
        raise ValueError(
            f"custom_date '{value}' is not a date in a known form (YYYY-MM-DD, ISO 8601, DD.MM.YYYY)"
        ) from None
