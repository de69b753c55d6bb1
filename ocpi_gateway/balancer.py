"""Spread client connections over the gateway's worker processes: least connections first.

SO_REUSEPORT lets the kernel hash each connection to a worker; with the few long-lived
keep-alive connections OCPI parties open, that leaves one worker with far more connections
than another (measured: 10 against 6 of 16), and its requests queue longer. Instead the parent
process owns the listening socket, accepts, and hands each connection (SCM_RIGHTS over a
socketpair, as Node.js' cluster module does) to the worker holding the fewest open
connections. Workers report on the same socketpair that they are ready and every closed
connection. Which process runs in which slot is :mod:`ocpi_gateway.supervisor`'s business.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
from collections.abc import Callable

CLOSED = b"-"  # worker -> parent: one handed connection has closed
READY = b"+"  # worker -> parent: serving (start-up finished)
_MAX_FDS = 64  # descriptors accepted per message by a worker
_WAKE = -1  # selector tag of the wake-up socket
_LISTENER = -2


class Balancer:
    """The parent's side: one listening socket, one socketpair per worker slot."""

    def __init__(self, host: str, port: int, workers: int, backlog: int = 4096) -> None:
        self.listener: socket.socket | None = socket.create_server((host, port), backlog=backlog)
        self.listener.setblocking(False)
        self.pairs = [_pair() for _ in range(workers)]
        self.open = [0] * workers  # connections handed to each worker and not yet closed
        self.alive = [False] * workers  # the slot's worker holds its end and is serving
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._listening = False

    def worker_socket(self, index: int) -> socket.socket:
        """The socket worker ``index`` keeps (call in the child right after the fork)."""
        if self.listener is not None:
            self.listener.close()
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()
        for i, (parent_end, child_end) in enumerate(self.pairs):
            parent_end.close()
            if i != index:
                child_end.close()
        return self.pairs[index][1]

    def forked(self, index: int) -> None:
        """In the parent, after forking slot ``index``'s worker: keep only our end."""
        parent_end, child_end = self.pairs[index]
        child_end.close()
        parent_end.setblocking(False)
        self._sel.register(parent_end, selectors.EVENT_READ, index)

    def renew(self, index: int) -> None:
        """A fresh socketpair for slot ``index`` (before forking its replacement)."""
        parent_end, child_end = self.pairs[index]
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(parent_end)
        parent_end.close()
        child_end.close()
        self.pairs[index] = _pair()
        self.open[index] = 0
        self.alive[index] = False

    def wake(self) -> None:
        """Make a pending :meth:`poll` return now (safe from a signal handler)."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def stop_accepting(self) -> None:
        """Close the listening socket: new connections are refused from now on."""
        if self.listener is not None:
            if self._listening:
                self._sel.unregister(self.listener)
                self._listening = False
            self.listener.close()
            self.listener = None

    def close(self) -> None:
        self.stop_accepting()
        self._sel.close()
        for parent_end, child_end in self.pairs:
            parent_end.close()
            child_end.close()
        self._wake_r.close()
        self._wake_w.close()

    def poll(self, timeout: float) -> list[int]:
        """One round: accept and hand out connections, read reports.

        Accepts only while some worker is serving (otherwise connections wait in the
        backlog). Returns the slots whose worker reported ready in this round.
        """
        self._listen(any(self.alive))
        ready: list[int] = []
        for key, _ in self._sel.select(timeout):
            if key.data == _WAKE:
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
            elif key.data == _LISTENER:
                self._accept()
            else:
                self._reports(key.data, ready)
        return ready

    def _listen(self, on: bool) -> None:
        if self.listener is None or on == self._listening:
            return
        if on:
            self._sel.register(self.listener, selectors.EVENT_READ, _LISTENER)
        else:
            self._sel.unregister(self.listener)
        self._listening = on

    def _accept(self) -> None:
        while self.listener is not None:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. EMFILE: leave it in the backlog for the next round
                return
            try:
                self._hand_over(conn)
            finally:
                conn.close()  # the worker holds its own duplicate now

    def _hand_over(self, conn: socket.socket) -> None:
        candidates = [i for i, alive in enumerate(self.alive) if alive]
        while candidates:
            index = min(candidates, key=self.open.__getitem__)
            try:
                socket.send_fds(self.pairs[index][0], [b"c"], [conn.fileno()])
            except OSError:  # that worker is gone or stuck: try the next one
                candidates.remove(index)
                continue
            self.open[index] += 1
            return

    def _reports(self, index: int, ready: list[int]) -> None:
        """Read a worker's reports; at end of file the slot is dead until renewed."""
        parent_end = self.pairs[index][0]
        while True:
            try:
                data = parent_end.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self.alive[index] = False
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(parent_end)
                return
            if READY in data:
                self.alive[index] = True
                ready.append(index)
            self.open[index] = max(0, self.open[index] - data.count(CLOSED))


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def receive_connections(
    loop: asyncio.AbstractEventLoop,
    channel: socket.socket,
    make_protocol: Callable[[Callable[[], None]], asyncio.Protocol],
    parent_gone: Callable[[], None] | None = None,
) -> Callable[[], None]:
    """The worker's side: serve every connection the parent hands over on ``channel``.

    ``make_protocol(on_close)`` builds the protocol of one connection; it must call
    ``on_close()`` when that connection is lost, so the parent's count stays right.
    ``parent_gone()`` is called if the parent dies (e.g. kill -9): no connection will come
    any more, so the worker should stop rather than linger holding the data dir.
    Tells the parent this worker is ready; returns the function that stops receiving.
    """
    channel.setblocking(False)

    def report_closed() -> None:
        with contextlib.suppress(OSError):
            channel.send(CLOSED)

    def on_readable() -> None:
        while True:
            try:
                _, fds, _, _ = socket.recv_fds(channel, 16, _MAX_FDS)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                fds = []
            if not fds:  # the parent has gone: no more connections will come
                loop.remove_reader(channel.fileno())
                if parent_gone is not None:
                    parent_gone()
                return
            for fd in fds:
                sock = socket.socket(fileno=fd)
                sock.setblocking(False)
                loop.create_task(_serve_one(loop, sock, lambda: make_protocol(report_closed)))

    def stop() -> None:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(channel.fileno())
        channel.close()

    loop.add_reader(channel.fileno(), on_readable)
    channel.send(READY)
    return stop


async def _serve_one(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    protocol_factory: Callable[[], asyncio.Protocol],
) -> None:
    try:
        await loop.connect_accepted_socket(protocol_factory, sock)
    except OSError:
        sock.close()
