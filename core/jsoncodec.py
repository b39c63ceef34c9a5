"""JSON out of the API and out of the database, through orjson: encoding a page of records
and decoding each row's ``custom`` values are a large share of a list request's work."""

import json

import orjson

_API_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value):
    """Compact UTF-8 JSON bytes, as ``json.dumps(value, default=str)`` would write them:
    what JSON has no form for (times, decimals) as its ``str``; an integer beyond 64 bits,
    which orjson refuses, through the standard library."""
    try:
        return orjson.dumps(value, default=str, option=_API_OPTIONS)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def loads(text):
    """A stored JSON value. Text orjson refuses but the standard library reads (``NaN``, a
    lone surrogate escape, written by ``json.dumps``) is read by the latter, so nothing once
    stored becomes unreadable."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
