"""The legacy MySQL table through tasks.sources, against MariaDB: every generated contact in
key order (checked with PyMySQL and against the ground truth), resume by key, a killed
connection that says where to resume, and the refusals; no password ever in a message."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from leadpipe import tenant as tenant_config
from sampledata.legacy import LegacyOptions, generate_legacy
from sampledata.sources import CONTACTS_COLUMNS
from tasks.sources import (
    MysqlSource,
    RetryableSourceError,
    SourceError,
    is_retryable,
    open_source,
)
from tasks.sources.mysql import MysqlLocation

ROWS = 3000
DEMO = tenant_config.load("demo")
# contacts.source needs a spelling for source_name (see the report on demo.toml).
SYNONYMS = {**DEMO.legacy.header_synonyms, "source_name": ["source"]}
TENANT = DEMO.model_copy(update={"legacy": DEMO.legacy.model_copy(
    update={"header_synonyms": SYNONYMS})})
CONTACTS_FIELDS = {"first_name": "first_name", "last_name": "last_name",
                   "full_name": "full_name", "email": "email", "phone": "phone",
                   "phone2": "phone2", "address1": "street", "address2": "street2",
                   "city": "city", "state": "state", "zip": "zip", "source": "source_name",
                   "created_at": "created_at", "updated_at": "updated_at"}


def _admin(server: str) -> pymysql.Connection:
    where = MysqlLocation.parse(server + "mysql")
    return pymysql.connect(host=where.host, port=where.port, user=where.user,
                           password=where.password, autocommit=True)


@pytest.fixture(scope="module")
def contacts(mariadb_url: str, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[str, Path]]:
    """A private database with 3,000 generated contacts; yields its URL and the truth folder."""
    database = f"lp_sources_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = mariadb_url + database
    out = tmp_path_factory.mktemp("legacy_mysql")
    generate_legacy(LegacyOptions(rows=ROWS, seed=4, out=out, mysql_url=url,
                                  sources=("mysql",)))
    yield url, out
    with _admin(mariadb_url) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")


def _read(url: str, **options: Any) -> pa.Table:
    return pa.Table.from_batches(open_source(url, TENANT).batches(**options))


def _independent_rows(url: str) -> list[dict[str, Any]]:
    where = MysqlLocation.parse(url)
    connection = pymysql.connect(host=where.host, port=where.port, user=where.user,
                                 password=where.password, database=where.database,
                                 cursorclass=pymysql.cursors.DictCursor)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM contacts ORDER BY id")
        return list(cursor.fetchall())


def test_every_contact_is_read_in_key_order(contacts):
    url, out = contacts
    source = open_source(url, TENANT)
    assert source.kind == "legacy_mysql"
    assert source.key == "id"
    table = _read(url, batch_rows=700)
    truth = pq.read_table(out / "truth.parquet")["source_key"].to_pylist()
    assert table.num_rows == len(truth) == ROWS
    assert table["row_number"].to_pylist() == sorted(truth)
    assert table["source_key"].to_pylist() == [str(k) for k in sorted(truth)]


def test_columns_map_to_the_logical_fields(contacts):
    url, _ = contacts
    table = _read(url).to_pylist()
    expected = _independent_rows(url)
    assert len(table) == len(expected)
    for row, source in zip(table, expected, strict=True):
        text = {k: (None if v is None else str(v)) for k, v in source.items()}
        for column, field in CONTACTS_FIELDS.items():
            assert row[field] == text[column], (row["row_number"], column)
        assert json.loads(row["raw"]) == text
        assert list(json.loads(row["raw"])) == list(CONTACTS_COLUMNS)


def test_dates_and_emails_agree_with_the_ground_truth(contacts):
    url, out = contacts
    truth = {str(t["source_key"]): t for t in pq.read_table(out / "truth.parquet").to_pylist()}
    people = {p["person_id"]: p for p in pq.read_table(out / "people.parquet").to_pylist()}
    for row in _read(url).to_pylist():
        record = truth[row["source_key"]]
        assert row["updated_at"] == record["updated_at"].strftime("%Y-%m-%d %H:%M:%S")
        if row["email"] is not None:
            assert row["email"] == people[record["person_id"]]["email"]


@pytest.mark.parametrize("start_after", [0, 1, 499, 500, 2999, 3000])
def test_resume_by_key_yields_exactly_the_rest(contacts, start_after):
    url, _ = contacts
    batches = list(open_source(url, TENANT).batches(start_after=start_after, batch_rows=500))
    assert all(b.num_rows == 500 for b in batches[:-1])
    resumed = pa.Table.from_batches(batches, schema=_read(url).schema)
    assert resumed.equals(_read(url).slice(start_after))


def test_estimate_is_the_servers(contacts):
    url, _ = contacts
    assert 0.5 * ROWS <= open_source(url, TENANT).estimate() <= 1.5 * ROWS


def test_a_killed_connection_says_where_to_resume(contacts, mariadb_url):
    url, _ = contacts
    database = MysqlLocation.parse(url).database
    batches = open_source(url, TENANT).batches(batch_rows=400)
    first = next(batches)
    with _admin(mariadb_url) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST "
                       "WHERE DB = %s AND ID <> CONNECTION_ID()", (database,))
        for (thread,) in cursor.fetchall():
            cursor.execute(f"KILL {int(thread)}")
    with pytest.raises(RetryableSourceError) as error:
        next(batches)
    assert is_retryable(error.value)
    assert error.value.resume_after == first["row_number"][-1].as_py() == 400
    rest = _read(url, start_after=error.value.resume_after)
    assert first["row_number"].to_pylist() + rest["row_number"].to_pylist() == list(
        range(1, ROWS + 1))


class CuttingProxy:
    """A TCP relay to the server that can drop the connection part-way through a reply."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.replied = 0
        self.cut_at: int | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
                threading.Thread(target=self._pump, args=(client, server, False),
                                 daemon=True).start()
                threading.Thread(target=self._pump, args=(server, client, True),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, reply: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(4096):
                if reply and self.cut_at is not None:
                    data = data[:max(self.cut_at - self.replied, 0)]
                sink.sendall(data)
                if reply:
                    self.replied += len(data)
                    if self.cut_at is not None and self.replied >= self.cut_at:
                        break
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


def test_a_connection_lost_mid_reply_says_where_to_resume(contacts):
    url, _ = contacts
    where = MysqlLocation.parse(url)
    proxy = CuttingProxy(where.port)
    relayed = f"mysql://{where.user}@127.0.0.1:{proxy.port}/{where.database}"
    batches = open_source(relayed, TENANT).batches(batch_rows=600)
    assert next(batches).num_rows == 600
    proxy.cut_at = proxy.replied + 20_000  # the next reply (about 90 kB) stops a fifth in
    with pytest.raises(RetryableSourceError, match=r"error 2013: .*resume after key 600"):
        next(batches)
    proxy.listener.close()


def test_an_unreachable_server_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryableSourceError, match=rf"mysql://127.0.0.1:{port}/crm.contacts"):
        open_source(f"mysql://root:s3cret@127.0.0.1:{port}/crm", TENANT)


def test_the_tenant_url_comes_from_its_secret(contacts, monkeypatch):
    url, _ = contacts
    monkeypatch.setenv("LEGACY_MYSQL_URL", url)
    source = open_source("mysql", TENANT)
    assert source.name == url.replace("mysql://root@", "mysql://") + ".contacts"
    assert next(source.batches(batch_rows=5)).num_rows == 5


def test_missing_table_and_unusable_keys_are_refused(contacts, mariadb_url):
    url, _ = contacts
    with pytest.raises(SourceError, match=r"/lp_sources_\w+\.leads: no such table"):
        open_source(url + ".leads", TENANT)
    database = MysqlLocation.parse(url).database
    with _admin(mariadb_url) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{database}`.nokey (email varchar(9))")
        cursor.execute(f"CREATE TABLE `{database}`.textkey (email varchar(9) PRIMARY KEY)")
    for table in ("nokey", "textkey"):
        with pytest.raises(SourceError, match="single-column integer primary key"):
            open_source(url, TENANT, table=table)


def test_a_table_without_person_columns_names_them(contacts, mariadb_url):
    url, _ = contacts
    database = MysqlLocation.parse(url).database
    with _admin(mariadb_url) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{database}`.orders (id int PRIMARY KEY, sku text)")
    with pytest.raises(SourceError, match=r"\.orders: no name, .*'id', 'sku'"):
        open_source(url + ".orders", TENANT)


def test_locations_never_show_credentials():
    where = MysqlLocation.parse("mysql://app:p%40ss@db.example:3307/legacy_crm.people")
    assert (where.user, where.password, where.database, where.table) == (
        "app", "p@ss", "legacy_crm", "people")
    assert where.name == "mysql://db.example:3307/legacy_crm.people"
    assert MysqlLocation.parse("mariadb://h/crm", "leads").table == "leads"
    with pytest.raises(SourceError, match="names no database"):
        MysqlLocation.parse("mysql://app:secret@h/")


def test_unreachable_errors_hide_the_password():
    with pytest.raises(RetryableSourceError) as error:
        MysqlSource("mysql://root:s3cret@127.0.0.1:1/crm", SYNONYMS)
    assert "s3cret" not in str(error.value)


def test_packed_rows_read_as_the_columns_do(contacts, mariadb_url):
    # Rows come packed in one value unless a value holds the separator (that batch is read
    # column by column) or a column's text differs inside CONCAT (a FLOAT: never packed).
    url, _ = contacts
    database = MysqlLocation.parse(url).database
    with _admin(mariadb_url) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{database}`.mixed (id int PRIMARY KEY, "
                       "email varchar(40), city varchar(20) CHARACTER SET latin1, "
                       "created_at datetime, note text)")
        cursor.execute(f"INSERT INTO `{database}`.mixed VALUES "
                       "(1, 'a\x1fb@example.com', 'Zürich', '2020-01-02 03:04:05', NULL), "
                       "(2, '', NULL, NULL, 'ß'), "
                       "(3, 'c@example.com', 'Köln', '2021-05-06 00:00:00', ''), "
                       "(4, NULL, '', NULL, NULL)")
        cursor.execute(f"CREATE TABLE `{database}`.measured (id int PRIMARY KEY, "
                       "email varchar(40), score float)")
        cursor.execute(f"INSERT INTO `{database}`.measured VALUES (7, 'd@example.com', 1.1)")
    mixed = open_source(url + ".mixed", TENANT)
    measured = open_source(url + ".measured", TENANT)
    assert (mixed._select_packed is None, measured._select_packed is None) == (False, True)
    raw = [json.loads(r) for r in _read(url + ".mixed", batch_rows=2).column("raw").to_pylist()]
    assert raw == [
        {"id": "1", "email": "a\x1fb@example.com", "city": "Zürich",
         "created_at": "2020-01-02 03:04:05", "note": None},
        {"id": "2", "email": "", "city": None, "created_at": None, "note": "ß"},
        {"id": "3", "email": "c@example.com", "city": "Köln",
         "created_at": "2021-05-06 00:00:00", "note": ""},
        {"id": "4", "email": None, "city": "", "created_at": None, "note": None}]
    assert [json.loads(r) for r in _read(url + ".measured").column("raw").to_pylist()] == [
        {"id": "7", "email": "d@example.com", "score": "1.1"}]
