"""pytest plugin: a MariaDB server for the legacy MySQL source (`mariadb_url` fixture).

Uses the server on 127.0.0.1:3306 when one answers for root without a password (this
machine has one); otherwise starts a private `mariadbd` on a free port in a temporary
folder, installing the Debian package `mariadb-server` first where `mariadbd` is missing,
and stops it when the session ends. Set `LEADPIPE_TEST_MARIADB=private` to always start a
private one. Each test should use its own database name in the URL it builds.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = ("127.0.0.1", 3306)
MARIADBD = Path("/usr/sbin/mariadbd")
START_TIMEOUT_S = 60


def _answers(host: str, port: int) -> bool:
    """Whether a MariaDB/MySQL server there accepts root with no password."""
    import pymysql

    try:
        connection = pymysql.connect(host=host, port=port, user="root", password="",
                                     connect_timeout=2)
    except pymysql.MySQLError:
        return False
    connection.close()
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _install_server() -> None:
    """Install the Debian package that ships `mariadbd` and `mariadb-install-db`."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("no MariaDB server here and no apt-get to install one")
    install = [apt, "install", "-y", "--no-install-recommends", "mariadb-server"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run([apt, "update"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


def _install_db(data: Path) -> None:
    tool = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if tool is None:
        raise RuntimeError("mariadb-install-db is missing although mariadbd is installed")
    subprocess.run(
        [tool, "--no-defaults", f"--datadir={data}", "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        capture_output=True, check=True,
    )


def _start_private(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Initialise a data folder and start `mariadbd` on it; wait until it answers."""
    if not MARIADBD.exists():
        _install_server()
    data = folder / "data"
    _install_db(data)
    port = _free_port()
    log = (folder / "mariadbd.log").open("wb")
    process = subprocess.Popen(
        [str(MARIADBD), "--no-defaults", f"--datadir={data}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--socket={folder / 'sock'}", "--user=root",
         f"--pid-file={folder / 'mariadbd.pid'}", "--local-infile=1", "--skip-log-bin",
         "--innodb-buffer-pool-size=128M", "--innodb-flush-log-at-trx-commit=0"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mariadbd exited: see {folder / 'mariadbd.log'}")
        if _answers("127.0.0.1", port):
            return process, port
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"mariadbd did not answer within {START_TIMEOUT_S}s")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """`mysql://root@127.0.0.1:PORT/` of a server where tests may create databases."""
    if os.environ.get("LEADPIPE_TEST_MARIADB") != "private" and _answers(*SHARED):
        yield f"mysql://root@{SHARED[0]}:{SHARED[1]}/"
        return
    folder = Path(tempfile.mkdtemp(prefix="leadpipe-mariadb-"))
    process, port = _start_private(folder)
    try:
        yield f"mysql://root@127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
