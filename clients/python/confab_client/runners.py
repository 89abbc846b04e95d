"""Execute `calls.Call` and `calls.StreamCall` descriptions over httpx: `SyncRunner` with
an `httpx.Client`, `AsyncRunner` with an `httpx.AsyncClient`. Everything else (routes,
bodies, parsing, errors) is shared; only the waiting differs."""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from os import fspath
from typing import Any, TypeVar

import anyio
import httpx

from .calls import Call, FilePath, Request, StreamCall
from .errors import error_from_response

T = TypeVar("T")

_UPLOAD_CHUNK = 64 * 1024


def _finish(call: Call[T], response: httpx.Response) -> T:
    if response.is_error:
        raise error_from_response(response)
    return call.parse(response)


def _send_args(
    request: Request, extra: Mapping[str, str], file_body: Callable[[FilePath], Any]
) -> dict[str, Any]:
    """httpx's keyword arguments for a request; `file_body` streams a file upload
    (a sync or an async iterator of its chunks)."""
    headers = dict(extra)
    if request.headers:
        headers.update(request.headers)
    args: dict[str, Any] = {"params": request.params, "headers": headers}
    if request.json is not None:
        args["json"] = request.json
    elif request.upload is not None:
        headers.setdefault("Content-Type", "application/octet-stream")
        upload = request.upload
        args["content"] = upload if isinstance(upload, bytes) else file_body(upload)
    return args


def _file_chunks(upload: FilePath) -> Iterator[bytes]:
    with open(fspath(upload), "rb") as file:
        while chunk := file.read(_UPLOAD_CHUNK):
            yield chunk


async def _file_chunks_async(upload: FilePath) -> AsyncIterator[bytes]:
    async with await anyio.open_file(fspath(upload), "rb") as file:
        while chunk := await file.read(_UPLOAD_CHUNK):
            yield chunk


class SyncRunner:
    """Runs calls on an `httpx.Client`, adding `headers` (e.g. the API key) to each."""

    def __init__(self, http: httpx.Client, headers: Mapping[str, str] | None = None) -> None:
        self._http = http
        self._extra_headers = dict(headers or {})

    def _run(self, call: Call[T]) -> T:
        request = call.request
        args = _send_args(request, self._extra_headers, _file_chunks)
        response = self._http.request(request.method, request.path, **args)
        return _finish(call, response)

    def _stream(self, call: StreamCall[T]) -> Generator[T, None, None]:
        request = call.request
        args = _send_args(request, self._extra_headers, _file_chunks)
        with self._http.stream(request.method, request.path, **args) as response:
            if response.is_error:
                response.read()
                raise error_from_response(response)
            decoder = call.decoder()
            for chunk in response.iter_bytes():
                yield from decoder.feed(chunk)
            yield from decoder.finish()


class AsyncRunner:
    """Runs calls on an `httpx.AsyncClient`, adding `headers` to each."""

    def __init__(
        self, http: httpx.AsyncClient, headers: Mapping[str, str] | None = None
    ) -> None:
        self._http = http
        self._extra_headers = dict(headers or {})

    async def _run(self, call: Call[T]) -> T:
        request = call.request
        args = _send_args(request, self._extra_headers, _file_chunks_async)
        response = await self._http.request(request.method, request.path, **args)
        return _finish(call, response)

    async def _stream(self, call: StreamCall[T]) -> AsyncGenerator[T, None]:
        request = call.request
        args = _send_args(request, self._extra_headers, _file_chunks_async)
        async with self._http.stream(request.method, request.path, **args) as response:
            if response.is_error:
                await response.aread()
                raise error_from_response(response)
            decoder = call.decoder()
            async for chunk in response.aiter_bytes():
                for item in decoder.feed(chunk):
                    yield item
            for item in decoder.finish():
                yield item
