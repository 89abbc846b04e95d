"""One description of each API call: the request, and how to read its answer.

A `Call` is answered by one JSON body, which `parse` turns into the result; a
`StreamCall` by a body read as it arrives, which a fresh `decoder()` turns into items.
Neither does any I/O: `runners.SyncRunner` and `runners.AsyncRunner` execute the same
descriptions, so the sync and the async client share every route, body and parser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote

import httpx

T = TypeVar("T")

FilePath = str | PathLike[str]
Upload = bytes | FilePath
"""A request body sent as it is: bytes, or the path of a file streamed from disk."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    """The JSON body; None sends no body (no route needs a JSON `null`)."""
    upload: Upload | None = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Call(Generic[T]):
    request: Request
    parse: Callable[[httpx.Response], T]


class Decoder(Protocol[T]):
    """Turns a body's bytes, as they arrive, into items; `finish` at its end."""

    def feed(self, chunk: bytes) -> list[T]: ...

    def finish(self) -> list[T]: ...


@dataclass(frozen=True)
class StreamCall(Generic[T]):
    request: Request
    decoder: Callable[[], Decoder[T]]


def path(*parts: object) -> str:
    """`/`-joined, each id percent-encoded (they are ints and uuids, but share ids and
    anything a caller passes must not change the route)."""
    return "".join("/" + quote(str(p), safe="") for p in parts)


def query(**values: object) -> dict[str, str]:
    """Query parameters as confab reads them: None left out, booleans `true`/`false`,
    times in RFC 3339."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, datetime):
            out[name] = value.isoformat()
        else:
            out[name] = str(value)
    return out


def body(**values: object) -> dict[str, object]:
    """A JSON body of the given fields, those left as None omitted."""
    return {name: value for name, value in values.items() if value is not None}
