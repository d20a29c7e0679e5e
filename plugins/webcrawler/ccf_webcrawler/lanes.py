"""Request lanes: one small httpx connection pool per concurrent request instead of one large pool.

httpcore's connection pool walks every connection it holds, twice per request, and counts the idle
ones again for each idle connection it meets (quadratic in the pool size; encode/httpcore#1035). At
a concurrency of 16 that walk was half the CPU time of a 304 Not Modified, and
a recrawl where every page answers 304 is bound by that CPU time, not by the network.

:class:`LaneTransport` keeps ``lanes`` ordinary httpx transports and runs each request on a lane
no other request is using, so each pool holds the connection of the request at hand and little
else. A request goes to an idle lane that last talked to the same origin when there is one (its
connection is reused), else to the lane idle the longest. At most ``lanes`` requests are in flight;
more wait for a lane to come free. The lane is given back when the response is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx


class _Lane:
    __slots__ = ("origin", "transport")

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.origin: tuple[bytes, bytes, int | None] | None = None


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its lane back when closed (once, however it ends)."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class LaneTransport(httpx.AsyncBaseTransport):
    """An httpx transport running each request on one of ``lanes`` inner transports of its own.

    Args:
        lanes: requests in flight at most (one per lane).
        make_transport: builds one lane's transport (called lazily, at most ``lanes`` times).
    """

    def __init__(self, lanes: int, make_transport: Callable[[], httpx.AsyncBaseTransport]) -> None:
        if lanes < 1:
            raise ValueError("lanes must be at least 1")
        self._size = lanes
        self._make = make_transport
        self._all: list[_Lane] = []
        self._idle: list[_Lane] = []  # the one idle the longest first
        self._waiters: list[asyncio.Future[None]] = []

    async def _acquire(self, origin: tuple[bytes, bytes, int | None]) -> _Lane:
        while not self._idle and len(self._all) >= self._size:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif not waiter.cancelled():
                    self._wake_one()  # woken and cancelled at once: pass the turn on
                raise
        for position in range(len(self._idle) - 1, -1, -1):
            if self._idle[position].origin == origin:
                return self._idle.pop(position)
        if len(self._all) < self._size:
            lane = _Lane(self._make())
            self._all.append(lane)
            return lane
        return self._idle.pop(0)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, lane: _Lane) -> None:
        self._idle.append(lane)
        self._wake_one()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port)
        lane = await self._acquire(origin)
        lane.origin = origin
        try:
            response = await lane.transport.handle_async_request(request)
        except BaseException:
            self._release(lane)
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(stream, lambda: self._release(lane))
        return response

    async def aclose(self) -> None:
        for lane in self._all:
            await lane.transport.aclose()
