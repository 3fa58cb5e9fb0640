"""A TCP proxy a test controls, to make a service unreachable for one worker only.

The shared Redis (and Kafka) must keep serving every other test and engineer on the
machine, so a test that needs "Redis is down" points its worker at this proxy and cuts
it: the worker's open connections are closed and new ones are refused, as when Redis
stops. The proxy runs its own event loop in a thread, so it keeps forwarding while the
test blocks (``WorkerProcess.stop`` waits synchronously).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

_CHUNK = 64 * 1024


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; :meth:`cut` and :meth:`restore`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0  # chosen by the OS at the first start, kept across restores
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="tcp-proxy")
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        """Listen, in the proxy's thread."""
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        """Close every open connection and refuse new ones: the service is unreachable."""
        self._call(self._cut())

    def restore(self) -> None:
        """Listen again on the same port: the service answers again."""
        self._call(self._listen())

    def close(self) -> None:
        """Cut, then stop the proxy's thread."""
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def url(self, service_url: str) -> str:
        """``service_url`` (e.g. ``redis://127.0.0.1:16379/0``) through the proxy."""
        parts = urlsplit(service_url)
        auth, _, _ = parts.netloc.rpartition("@")
        address = f"127.0.0.1:{self.port}"
        return parts._replace(netloc=f"{auth}@{address}" if auth else address).geturl()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        pumps = list(self._pumps)
        for pump in pumps:
            pump.cancel()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, server_writer))
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            pump = asyncio.ensure_future(self._pump(reader, writer))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Either side closing closes the other, as a direct connection would.
        try:
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
