"""Spread client connections over the gateway's worker processes: least connections first.

SO_REUSEPORT lets the kernel hash each connection to a worker; with the few long-lived
keep-alive connections OCPI parties open, that leaves one worker with far more connections
than another (measured: 10 against 6 of 16), and its requests queue longer. Instead the parent
process owns the listening socket, accepts, and hands each connection (SCM_RIGHTS over a
socketpair, as Node.js' cluster module does) to the worker holding the fewest open
connections. Workers report every closed connection back on the same socketpair.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import signal
import socket
from collections.abc import Callable

CLOSED = b"-"  # worker -> parent: one handed connection has closed
_MAX_FDS = 64  # descriptors accepted per message by a worker


class Balancer:
    """The parent's side: one listening socket, one socketpair per worker."""

    def __init__(self, host: str, port: int, workers: int, backlog: int = 4096) -> None:
        self.listener = socket.create_server((host, port), backlog=backlog)
        self.listener.setblocking(False)
        self.pairs = [
            socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(workers)
        ]
        self.open = [0] * workers  # connections handed to each worker and not yet closed
        self.alive = [True] * workers
        self._wake_r, self._wake_w = socket.socketpair()

    def worker_socket(self, index: int) -> socket.socket:
        """The socket worker ``index`` keeps (call in the child after the fork)."""
        self.listener.close()
        for i, (parent_end, child_end) in enumerate(self.pairs):
            parent_end.close()
            if i != index:
                child_end.close()
        return self.pairs[index][1]

    def parent_ready(self) -> None:
        """Drop the children's ends in the parent (after every fork)."""
        for _, child_end in self.pairs:
            child_end.close()
        for parent_end, _ in self.pairs:
            parent_end.setblocking(False)

    def stop(self) -> None:
        """Make :meth:`run` return (safe from a signal handler)."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def run(self) -> None:
        """Accept and hand out connections until :meth:`stop` or every worker is gone."""
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, None)
        sel.register(self._wake_r, selectors.EVENT_READ, -1)
        for index, (parent_end, _) in enumerate(self.pairs):
            sel.register(parent_end, selectors.EVENT_READ, index)
        try:
            while any(self.alive):
                for key, _ in sel.select():
                    if key.data == -1:
                        return
                    if key.data is None:
                        self._accept()
                    elif not self._reports(key.data):
                        sel.unregister(key.fileobj)
        finally:
            sel.close()
            self.listener.close()
            for parent_end, _ in self.pairs:
                parent_end.close()

    def _accept(self) -> None:
        while True:
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

    def _reports(self, index: int) -> bool:
        """Count closed-connection reports from a worker; False once it has exited."""
        parent_end = self.pairs[index][0]
        while True:
            try:
                data = parent_end.recv(4096)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                data = b""
            if not data:
                self.alive[index] = False
                return False
            self.open[index] = max(0, self.open[index] - data.count(CLOSED))


def receive_connections(
    loop: asyncio.AbstractEventLoop,
    channel: socket.socket,
    make_protocol: Callable[[Callable[[], None]], asyncio.Protocol],
) -> Callable[[], None]:
    """The worker's side: serve every connection the parent hands over on ``channel``.

    ``make_protocol(on_close)`` builds the protocol of one connection; it must call
    ``on_close()`` when that connection is lost, so the parent's count stays right.
    Returns the function that stops receiving and closes ``channel``.
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
                loop.remove_reader(channel.fileno())
                return
            if not fds:  # the parent has gone: no more connections will come
                loop.remove_reader(channel.fileno())
                return
            for fd in fds:
                sock = socket.socket(fileno=fd)
                sock.setblocking(False)
                loop.create_task(_serve_one(loop, sock, lambda: make_protocol(report_closed)))

    def stop() -> None:
        loop.remove_reader(channel.fileno())
        channel.close()

    loop.add_reader(channel.fileno(), on_readable)
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


def run_workers(
    host: str, port: int, workers: int, worker_main: Callable[[int, socket.socket], None]
) -> int:
    """Fork ``workers`` processes running ``worker_main(index, channel)`` behind one balancer.

    Returns once every worker has exited (SIGTERM/SIGINT are passed on to them): 0 when all
    exited cleanly, else 1.
    """
    balancer = Balancer(host, port, workers)
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                worker_main(index, balancer.worker_socket(index))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    balancer.parent_ready()

    def forward(signum: int, _frame: object) -> None:
        balancer.stop()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    balancer.run()  # until a signal, or until every worker has exited
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return 1 if status else 0
