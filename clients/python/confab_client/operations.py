"""Decorators that turn a method describing a call into a client method.

Each API method is written once, as a function that returns a `Call` (or `StreamCall`).
Reached through a sync client it runs the call and returns the result; through an async
client it returns an awaitable (for a stream: an async iterator). The overloads of
`__get__` tell a type checker which, so both clients are precisely typed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from .calls import Call, StreamCall
from .runners import AsyncRunner, SyncRunner

S = TypeVar("S")
P = ParamSpec("P")
T = TypeVar("T")


class operation(Generic[S, P, T]):  # noqa: N801 - used as a decorator
    """`@operation` on a method returning `Call[T]`: T (sync) or Awaitable[T] (async)."""

    def __init__(self, describe: Callable[Concatenate[S, P], Call[T]]) -> None:
        self._describe = describe
        self.__doc__ = describe.__doc__

    @overload
    def __get__(self, obj: None, owner: Any) -> operation[S, P, T]: ...
    @overload
    def __get__(self, obj: SyncRunner, owner: Any) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncRunner, owner: Any) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        describe = self._describe

        @functools.wraps(describe)
        def method(*args: Any, **kwargs: Any) -> Any:
            return obj._run(describe(obj, *args, **kwargs))

        return method


class streaming(Generic[S, P, T]):  # noqa: N801 - used as a decorator
    """`@streaming` on a method returning `StreamCall[T]`: a generator of T (sync) or an
    async generator (async). The request is sent when iteration starts; closing the
    generator (`close()`, `aclose()`, `contextlib.aclosing`) closes the connection."""

    def __init__(self, describe: Callable[Concatenate[S, P], StreamCall[T]]) -> None:
        self._describe = describe
        self.__doc__ = describe.__doc__

    @overload
    def __get__(self, obj: None, owner: Any) -> streaming[S, P, T]: ...
    @overload
    def __get__(self, obj: SyncRunner, owner: Any) -> Callable[P, Generator[T, None, None]]: ...
    @overload
    def __get__(self, obj: AsyncRunner, owner: Any) -> Callable[P, AsyncGenerator[T, None]]: ...
    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        describe = self._describe

        @functools.wraps(describe)
        def method(*args: Any, **kwargs: Any) -> Any:
            return obj._stream(describe(obj, *args, **kwargs))

        return method
