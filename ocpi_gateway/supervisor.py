"""The parent of ``ocn-node run --workers N``: fork the workers, keep them alive, stop them.

- A worker that dies is logged (exit code or signal) and replaced after a backoff
  (0.1 s doubling to 10 s, reset once a replacement has served for a while).
- A worker that fails before it is ready (its traceback is logged by the worker itself) is
  retried; after :data:`MAX_START_FAILURES` such failures in a row the node gives up: it stops
  the other workers and exits 1 with a message saying so.
- SIGTERM / SIGINT: stop accepting at once (the port is closed), pass the signal on, and wait
  for the workers to drain their in-flight requests; workers still alive ``grace`` + 5 s later
  are killed. Exits 0 when every worker stopped cleanly.
- SIGHUP: logged and passed on; nothing is reloaded (settings are read at start).
- Placement: a node given exactly as many CPUs as workers pins worker ``i`` to the ``i``-th
  (``worker_cpu_affinity = "auto"``, :func:`worker_cpus`); a replacement keeps its slot's CPU.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from ocpi_gateway.balancer import Balancer

log = structlog.get_logger("ocpi_gateway.supervisor")

MAX_START_FAILURES = 3  # failures before ready, in a row, after which the node gives up
BACKOFF_FIRST = 0.1  # seconds before the first replacement
BACKOFF_MAX = 10.0
STABLE_AFTER = 10.0  # seconds a worker must serve before its slot's backoff resets
KILL_MARGIN = 5.0  # seconds past the grace period before stuck workers are killed

WorkerMain = Callable[[int, socket.socket], None]


@dataclass
class _Slot:
    pid: int = 0  # 0: no process (waiting for its restart)
    ready_at: float = 0.0  # monotonic time the current process reported ready; 0 = not yet
    exits: int = 0  # consecutive exits without a stable run
    start_failures: int = 0  # consecutive exits before ready
    restart_at: float = 0.0


def exit_description(status: int) -> dict[str, object]:
    """``{"exit_code": n}`` or ``{"signal": "SIGKILL"}`` for a ``waitpid`` status."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        return {"signal": name}
    return {"exit_code": os.waitstatus_to_exitcode(status)}


def worker_cpus(workers: int, affinity: str = "auto") -> list[int] | None:
    """The CPU of each worker slot, or None to leave the workers' placement to the kernel.

    ``auto`` pins when the process may use exactly as many CPUs as it starts workers: the node
    sized to its machine (or cgroup, or ``taskset``). Left to itself, the kernel can keep two
    busy workers on one core while the other core runs the lighter processes, and each worker's
    connections then wait out the other's 4 ms time slices (a p99 many times the median). With
    fewer workers than CPUs nothing is pinned, so that several nodes on one machine do not all
    crowd its first cores.
    """
    if affinity != "auto" or workers < 2 or not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return allowed if len(allowed) == workers else None


class Supervisor:
    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        worker_main: WorkerMain,
        grace: float,
        cpus: list[int] | None = None,
    ) -> None:
        self.balancer = Balancer(host, port, workers)
        self.slots = [_Slot() for _ in range(workers)]
        self.cpus = cpus  # the CPU of each slot's worker (None: the kernel's choice)
        self.worker_main = worker_main
        self.grace = grace
        self.stop_signal = 0  # the signal that asked us to stop
        self.hangup = False
        self.child_exited = False  # SIGCHLD seen: reap
        self.stopping_since = 0.0
        self.failed = False  # gave up: workers cannot start
        self.unclean = 0  # workers that did not stop cleanly when asked

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, self._on_signal)
        for index in range(len(self.slots)):
            self._start(index)
        try:
            while any(slot.pid for slot in self.slots) or not self.stopping_since:
                for index in self.balancer.poll(0.25):
                    self._ready(index)
                if self.child_exited:
                    self.child_exited = False
                    self._reap()
                if self.hangup:
                    self.hangup = False
                    log.info("sighup", detail="settings are read at start; nothing reloaded")
                    self._signal_all(signal.SIGHUP)
                if self.stop_signal and not self.stopping_since:
                    self._begin_stop(signal.Signals(self.stop_signal).name)
                if self.stopping_since:
                    self._kill_stuck()
                else:
                    self._restart_due()
        finally:
            self.balancer.close()
        if self.failed:
            return 1
        return 0 if self.unclean == 0 else 1

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            self.hangup = True
        elif signum == signal.SIGCHLD:
            self.child_exited = True
        else:
            self.stop_signal = signum
        self.balancer.wake()

    def _start(self, index: int) -> None:
        slot = self.slots[index]
        cpu = self.cpus[index] if self.cpus else None
        self.balancer.renew(index)
        pid = os.fork()
        if pid == 0:  # the worker
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            if cpu is not None:  # before the worker starts any thread: they inherit it
                try:
                    os.sched_setaffinity(0, {cpu})
                except OSError as exc:  # that CPU left the node's set since the start
                    log.warning("worker_not_pinned", worker=index, cpu=cpu, error=str(exc))
            code = 0
            try:
                self.worker_main(index, self.balancer.worker_socket(index))
            except BaseException:
                log.exception("worker_failed", worker=index, pid=os.getpid())
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        self.balancer.forked(index)
        slot.pid, slot.ready_at = pid, 0.0
        log.info("worker_started", worker=index, pid=pid, cpu=cpu)

    def _ready(self, index: int) -> None:
        slot = self.slots[index]
        slot.ready_at = time.monotonic()
        slot.start_failures = 0
        log.info("worker_ready", worker=index, pid=slot.pid)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for index, slot in enumerate(self.slots):
                if slot.pid == pid:
                    self._exited(index, slot, status)

    def _exited(self, index: int, slot: _Slot, status: int) -> None:
        how = exit_description(status)
        now = time.monotonic()
        was_ready = slot.ready_at > 0
        pid, slot.pid = slot.pid, 0
        self.balancer.alive[index] = False
        if self.stopping_since:
            clean = how in ({"exit_code": 0}, {"signal": signal.Signals(self.stop_signal).name})
            self.unclean += not clean
            log.info("worker_stopped", worker=index, pid=pid, **how)
            return
        stable = was_ready and now - slot.ready_at >= STABLE_AFTER
        slot.exits = 1 if stable else slot.exits + 1
        slot.start_failures = 0 if was_ready else slot.start_failures + 1
        delay = min(BACKOFF_FIRST * 2 ** (slot.exits - 1), BACKOFF_MAX)
        slot.restart_at = now + delay
        log.warning(
            "worker_exited",
            worker=index,
            during_start=not was_ready,
            pid=pid,
            restart_in_s=round(delay, 3),
            **how,
        )
        if slot.start_failures >= MAX_START_FAILURES:
            self.failed = True
            message = (
                f"worker {index} failed to start {slot.start_failures} times in a row; "
                "the node gives up (the worker's error is logged above)"
            )
            log.error("node_start_failed", detail=message)
            self._begin_stop("start_failures")

    def _restart_due(self) -> None:
        now = time.monotonic()
        for index, slot in enumerate(self.slots):
            if slot.pid == 0 and now >= slot.restart_at:
                self._start(index)

    def _begin_stop(self, reason: str) -> None:
        self.stopping_since = time.monotonic()
        self.balancer.stop_accepting()
        log.info("node_stopping", reason=reason, grace_s=self.grace)
        self._signal_all(signal.SIGTERM)
        if not self.stop_signal:
            self.stop_signal = signal.SIGTERM

    def _kill_stuck(self) -> None:
        if time.monotonic() - self.stopping_since < self.grace + KILL_MARGIN:
            return
        for index, slot in enumerate(self.slots):
            if slot.pid:
                log.warning("worker_killed", worker=index, pid=slot.pid, reason="grace exceeded")
                os.kill(slot.pid, signal.SIGKILL)

    def _signal_all(self, signum: int) -> None:
        for slot in self.slots:
            if slot.pid:
                try:
                    os.kill(slot.pid, signum)
                except ProcessLookupError:
                    pass


def run_workers(
    host: str,
    port: int,
    workers: int,
    worker_main: WorkerMain,
    grace: float = 30.0,
    cpus: list[int] | None = None,
) -> int:
    """Run ``workers`` supervised processes of ``worker_main(index, channel)`` on one port,
    worker ``i`` on CPU ``cpus[i]`` when given (:func:`worker_cpus`).

    Returns the node's exit code once every worker has exited (see the module docstring).
    """
    return Supervisor(host, port, workers, worker_main, grace, cpus).run()
