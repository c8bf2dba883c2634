"""Metadata: title, date, place and content type read from a document's (or news item's) lines.

extract_metadata(["Press release", "Steady progress made in national efforts",
                  "- Date:", "- Place:", "- VIENNA", "VIENNA, 18 July 2022 – While ..."])
== ("Steady progress made in national efforts",
    Metadata(content_type="Press release", date="18 July 2022", place="Vienna"))
"""

from __future__ import annotations

import re

from qa.language import MONTHS
from qa.records import Metadata

KEYS = {
    "date": "date",
    "publishing date": "date",
    "published": "date",
    "place": "place",
    "content type": "content_type",
    "type": "content_type",
    "source": "publisher",
    "where we are": "office",
    "what we do": "topic",
    "fields of work": "topic",
}
DATE = rf"\d{{1,2}} (?:{MONTHS}) \d{{4}}|(?:{MONTHS}) \d{{1,2}}, \d{{4}}"
KEY_LINE = re.compile(r"^(?:- )?([A-Za-z][A-Za-z ]{1,25}):\s*(.*)$")
DATELINE = re.compile(rf"^([A-Z][A-Z .'/-]{{2,}}), ({DATE})")
ANY_DATE = re.compile(DATE)


def key_of(line: str) -> tuple[str, str] | None:
    """("date", "15 March 2022") for "Publishing date: 15 March 2022"; None for other lines."""
    m = KEY_LINE.match(line)
    if not m or m.group(1).strip().lower() not in KEYS:
        return None
    return KEYS[m.group(1).strip().lower()], m.group(2).strip()


def is_date_key(line: str) -> bool:
    key = key_of(line)
    return key is not None and key[0] == "date"


def extract_metadata(lines: list[str]) -> tuple[str, Metadata]:
    """(title, fields) for one document or section; fields only holds what was found."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(lines):
        key = key_of(lines[i])
        i += 1
        if key is None:
            continue
        name, value = key
        values = [value] if value else []
        while not value and i < len(lines) and lines[i].startswith("- ") and key_of(lines[i]) is None:
            values.append(lines[i][2:].strip())
            i += 1
        if values:
            fields.setdefault(name, "; ".join(values))
    for line in lines:
        m = DATELINE.match(line)
        if m:
            fields.setdefault("place", m.group(1).strip().title())
            fields.setdefault("date", m.group(2))
            break
    if "place" in fields:
        fields["place"] = fields["place"].title() if fields["place"].isupper() else fields["place"]
    if "date" not in fields:
        m = next((ANY_DATE.search(line) for line in lines if ANY_DATE.search(line)), None)
        if m:
            fields["date"] = m.group(0)
    title, before = _title(lines)
    if before and "content_type" not in fields:
        fields["content_type"] = before
    return title, Metadata.from_dict(fields)


def _title(lines: list[str]) -> tuple[str, str]:
    """The first line that reads like a headline, and the short label line just before it, if any."""
    previous = ""
    for line in lines:
        if line.startswith("# "):  # a document that names itself with a top heading
            return line[2:].strip(), ""
        words = line.split()
        if not line.startswith("- ") and key_of(line) is None and 4 <= len(words) <= 30:
            label = previous if _is_label(previous) else ""
            return line.rstrip(" .:"), label
        previous = line
    return "", ""


def _is_label(line: str) -> bool:
    """A short word label such as "Press release" (no digits, no bullet, at most three words)."""
    return (
        1 <= len(line.split()) <= 3
        and not line.startswith(("- ", "#", "`"))
        and not any(c.isdigit() for c in line)
        and not line.rstrip().endswith((".", "!", "?"))
    )
