"""What the database benchmarks share: a scratch database, and a monitor of memory and CPU.

Figures on a shared 2-core machine move with other work, so the monitor reports CPU
seconds (this process tree and the PostgreSQL backends of the benchmark's database) and
the load average beside the wall clock.
"""

from __future__ import annotations

import os
import resource
import threading
import uuid

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from db import connection
from db.databases import create_database


class Monitor:
    """Peak resident memory of this process tree (Ray workers included), and CPU seconds.

    CPU seconds are counted for this process tree and for the PostgreSQL backends serving
    the benchmark's database (found by name; none without one), so the work done can be
    told apart from time spent waiting for cores other processes on a shared machine hold.
    """

    def __init__(self, dbname: str | None = None, interval: float = 0.1,
                 scan_every: int = 10) -> None:
        self.dbname = dbname
        self.interval = interval
        self.scan_every = scan_every
        self.peak = 0
        self._backend_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        """Memory every `interval`; the process list (this tree's children, the database's
        backends) read again every `scan_every` samples. Listing every process each 0.1 s
        had cost 11 CPU seconds of a 1M-row migration on 2 cores, and the GIL with them."""
        me = psutil.Process()
        tree: list[psutil.Process] = [me]
        backends: list[psutil.Process] = []
        samples = 0
        while not self._stop.is_set():
            if samples % self.scan_every == 0:
                tree = [me, *me.children(recursive=True)]
                backends = self._backends() if self.dbname else []
            samples += 1
            total = 0
            for proc in tree:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            for proc in backends:
                try:
                    t = proc.cpu_times()
                except psutil.Error:
                    continue
                self._backend_cpu[proc.pid] = t.user + t.system
            self._stop.wait(self.interval)

    def _backends(self) -> list[psutil.Process]:
        """The PostgreSQL backends serving the benchmark's database (found by title)."""
        marker = f" {self.dbname} "
        found = []
        for proc in psutil.process_iter(["name"]):
            if not (proc.info["name"] or "").startswith("postgres"):
                continue
            try:
                cmd = " ".join(proc.cmdline()) + " "
            except psutil.Error:
                continue
            if cmd.startswith("postgres:") and marker in cmd:
                found.append(proc)
        return found

    def __enter__(self) -> Monitor:
        self._client = client_cpu()
        self._load = os.getloadavg()[0]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.client_cpu = round(client_cpu() - self._client, 2)
        self.postgres_cpu = round(sum(self._backend_cpu.values()), 2)
        self.load = (round(self._load, 2), round(os.getloadavg()[0], 2))


def client_cpu() -> float:
    """CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def scratch_database_server() -> str:
    """The maintenance database URI of the configured server."""
    params = conninfo_to_dict(connection.database_url())
    params["dbname"] = "postgres"
    return make_conninfo(**params)


def scratch_database() -> tuple[str, str, str]:
    """A new empty database on the configured server: (server URI, name, database URI)."""
    server = scratch_database_server()
    params = conninfo_to_dict(server)
    name = f"lp_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        create_database(conn, name)
    params["dbname"] = name
    return server, name, make_conninfo(**params)


def drop_database(server: str, name: str) -> None:
    """Drop a scratch database, closing whatever still uses it."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_settings(server: str) -> dict[str, str]:
    """The PostgreSQL settings that decide write speed (buffers, WAL)."""
    names = ("server_version", "shared_buffers", "max_wal_size", "wal_buffers",
             "checkpoint_timeout", "max_parallel_maintenance_workers")
    with psycopg.connect(server) as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}  # type: ignore[index]
