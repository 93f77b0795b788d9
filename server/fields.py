"""An endpoint's field definitions, and checking records against them.

Pure functions, no I/O. Definitions are stored as JSON on the endpoint
(`FieldDefinition.as_json`) and rebuilt with `parse_definitions`, which refuses
anything a person could get wrong (unknown types, duplicate names, min > max).
`check_record` returns every problem at once, keyed by field name, so a partner
can fix a record in one round trip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson

from server.errors import ValidationFailed

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
MAX_FIELDS = 200
DEFAULT_MAX_LENGTH = 10_000


class FieldType(str, Enum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    EMAIL = "email"
    URL = "url"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class FieldDefinition:
    name: str
    type: FieldType
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type.value, "required": self.required}
        for attr in ("min_length", "max_length", "min", "max"):
            if getattr(self, attr) is not None:
                out[attr] = getattr(self, attr)
        return out

    def check(self, value: Any) -> str | None:
        """Why `value` does not fit this field, or None when it does."""
        kind = self.type
        if kind in (FieldType.STRING, FieldType.EMAIL, FieldType.URL, FieldType.DATETIME):
            if not isinstance(value, str):
                return "must be a string"
            if kind is FieldType.STRING:
                return self._check_length(value)
            if kind is FieldType.EMAIL:
                return None if len(value) <= 254 and EMAIL.fullmatch(value) else "must be an email address"
            if kind is FieldType.URL:
                return None if _is_url(value) else "must be an http or https URL"
            return None if _is_datetime(value) else "must be an ISO 8601 date-time with a time zone, like 2026-12-04T17:00:00Z"
        if kind is FieldType.BOOLEAN:
            return None if isinstance(value, bool) else "must be true or false"
        if kind is FieldType.INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                return "must be an integer"
            return _out_of_range(value) or self._check_range(value)
        if kind is FieldType.NUMBER:
            if type(value) is float:  # the common case first: JSON numbers with a fraction
                return self._check_range(value) if math.isfinite(value) else "must be a finite number"
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "must be a number"
            if isinstance(value, float) and not math.isfinite(value):
                return "must be a finite number"
            return _out_of_range(value) or self._check_range(value)
        # JSON: any value the storage can hold; the record size limit bounds it.
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            return "holds a number outside the 64-bit range"
        return None

    def _check_length(self, value: str) -> str | None:
        longest = self.max_length if self.max_length is not None else DEFAULT_MAX_LENGTH
        if len(value) > longest:
            return f"must be at most {longest} characters"
        if self.min_length is not None and len(value) < self.min_length:
            return f"must be at least {self.min_length} characters"
        return None

    def _check_range(self, value: float) -> str | None:
        if self.min is None and self.max is None:
            return None
        if self.min is not None and value < self.min:
            return f"must be at least {_number(self.min)}"
        if self.max is not None and value > self.max:
            return f"must be at most {_number(self.max)}"
        return None


def _out_of_range(value: float) -> str | None:
    # Stored JSON holds 64-bit integers; larger ones would be silently rounded.
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return "is outside the 64-bit integer range"
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _is_url(value: str) -> bool:
    if len(value) > 2048 or any(c.isspace() or ord(c) < 32 for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # raises ValueError for a port outside 0-65535 or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_datetime(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def parse_definitions(raw: Any) -> list[FieldDefinition]:
    """Definitions from their JSON form; ValidationFailed names each bad entry."""
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed("An endpoint needs a list of at least one field.", fields={"fields": "must be a non-empty list"})
    if len(raw) > MAX_FIELDS:
        raise ValidationFailed(fields={"fields": f"at most {MAX_FIELDS} fields"})
    problems: dict[str, str] = {}
    definitions: list[FieldDefinition] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"fields[{index}]"
        if not isinstance(item, dict):
            problems[where] = "must be an object with name and type"
            continue
        name, kind = item.get("name"), item.get("type")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problems[where] = "name must be letters, digits and _, not starting with a digit, at most 64"
            continue
        if name in seen:
            problems[name] = "is defined twice"
            continue
        seen.add(name)
        try:
            field_type = FieldType(kind)
        except ValueError:
            problems[name] = f"type must be one of {', '.join(t.value for t in FieldType)}"
            continue
        unknown = set(item) - {"name", "type", "required", "min_length", "max_length", "min", "max"}
        if unknown:
            problems[name] = f"unknown setting {sorted(unknown)[0]}"
            continue
        try:
            definition = _build(name, field_type, item)
        except ValueError as exc:
            problems[name] = str(exc)
            continue
        definitions.append(definition)
    if problems:
        raise ValidationFailed("Some field definitions are invalid.", fields=problems)
    return definitions


def _build(name: str, kind: FieldType, item: dict[str, Any]) -> FieldDefinition:
    required = item.get("required", False)
    if not isinstance(required, bool):
        raise ValueError("required must be true or false")
    lengths = [item.get("min_length"), item.get("max_length")]
    bounds = [item.get("min"), item.get("max")]
    if any(v is not None for v in lengths) and kind is not FieldType.STRING:
        raise ValueError("min_length / max_length apply to string fields only")
    if any(v is not None for v in bounds) and kind not in (FieldType.INTEGER, FieldType.NUMBER):
        raise ValueError("min / max apply to integer and number fields only")
    for value in lengths:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError("lengths must be non-negative integers")
    for value in bounds:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            raise ValueError("min / max must be numbers")
    for low, high in (lengths, bounds):
        if low is not None and high is not None and low > high:
            raise ValueError("the minimum is above the maximum")
    return FieldDefinition(name, kind, required, lengths[0], lengths[1], bounds[0], bounds[1])


def parse_spec(spec: str) -> dict[str, Any]:
    """A field from the command line: `name:type[:required]`, e.g. `amount:number:required`."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "required"):
        raise ValidationFailed(fields={spec: "write a field as name:type or name:type:required"})
    return {"name": parts[0], "type": parts[1], "required": len(parts) == 3}


@lru_cache(maxsize=1024)
def _index(definitions: tuple[FieldDefinition, ...]) -> tuple[dict[str, FieldDefinition], tuple[str, ...]]:
    """An endpoint's fields by name, and its required ones in order: once per distinct set (records are checked by the hundred)."""
    return {d.name: d for d in definitions}, tuple(d.name for d in definitions if d.required)


def check_record(definitions: Sequence[FieldDefinition], data: Any, *, partial: bool = False) -> dict[str, Any]:
    """The record as it will be stored, or ValidationFailed with every problem.

    `None` means "no value": it is dropped. With `partial` (an update), required
    fields may be missing and `None` stays in the result so that the merge
    removes that field; the caller checks the merged record again.
    """
    if not isinstance(data, dict):
        raise ValidationFailed("A record must be a JSON object.", fields={"data": "must be a JSON object"})
    by_name, required = _index(tuple(definitions))
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in data.items():
        definition = by_name.get(name)
        if definition is None:
            problems[name] = "is not a field of this endpoint"
        elif value is None:
            if partial:
                clean[name] = None  # kept so that the merge removes the field
            elif definition.required:
                problems[name] = "is required"
        elif (why := definition.check(value)) is not None:
            problems[name] = why
        else:
            clean[name] = value
    if not partial:
        for name in required:
            if name not in clean and name not in problems:
                problems[name] = "is required"
    if problems:
        raise ValidationFailed("The data does not fit the endpoint's fields.", fields=problems)
    return clean
