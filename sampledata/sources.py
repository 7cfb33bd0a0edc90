"""Writers for the legacy person sources of FORMATS.md section 6, one class per shape.

Every writer takes batches of :class:`~sampledata.variation.Records` and returns each
record's key in its source (SQLite rowid, CSV data-row number, contacts id), which is what
truth.parquet records. Writers stream: a batch is laid out with Arrow compute and written,
nothing accumulates.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sampledata.variation import Records

CONTACTS_COLUMNS = (
    "id", "first_name", "last_name", "full_name", "email", "phone", "phone2", "address1",
    "address2", "city", "state", "zip", "source", "created_at", "updated_at",
)
"""`legacy_crm.contacts`: a row has either `full_name` or `first_name`/`last_name`."""

CONTACTS_DDL = """CREATE TABLE `contacts` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `first_name` varchar(100) DEFAULT NULL,
  `last_name` varchar(100) DEFAULT NULL,
  `full_name` varchar(200) DEFAULT NULL,
  `email` varchar(255) DEFAULT NULL,
  `phone` varchar(32) DEFAULT NULL,
  `phone2` varchar(32) DEFAULT NULL,
  `address1` varchar(255) DEFAULT NULL,
  `address2` varchar(100) DEFAULT NULL,
  `city` varchar(100) DEFAULT NULL,
  `state` char(2) DEFAULT NULL,
  `zip` varchar(10) DEFAULT NULL,
  `source` varchar(32) DEFAULT NULL,
  `created_at` datetime DEFAULT NULL,
  `updated_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"""

LEADS_DDL = (
    "CREATE TABLE leads (name TEXT, email TEXT, mobile TEXT, street TEXT, city TEXT, "
    "st TEXT, postal TEXT, added_on TEXT)"
)
"""The old campaign tools' SQLite table; rows are keyed by their implicit rowid."""

LEAD_SOURCES = ("web", "mailer", "referral", "call_center", "import", "event")

_NULL = pa.scalar(None, pa.string())


def timestamp_text(epoch: np.ndarray, style: str) -> pa.Array:
    """Epoch seconds as text: `iso` 2021-03-04 12:33:10, `iso_t` 2021-03-04T12:33:10Z,
    `date` 2021-03-04, `us_date` 03/04/2021, `us_datetime` 03/04/2021 12:33."""
    iso = pa.array(epoch, pa.timestamp("s")).cast(pa.string())
    part = pc.utf8_slice_codeunits
    join = pc.binary_join_element_wise
    if style == "iso":
        return iso
    if style == "iso_t":
        return join(part(iso, 0, 10), "T", part(iso, 11, 19), "Z", "")
    if style == "date":
        return part(iso, 0, 10)
    us = join(part(iso, 5, 7), part(iso, 8, 10), part(iso, 0, 4), "/")
    if style == "us_date":
        return us
    if style == "us_datetime":
        return join(us, part(iso, 11, 16), " ")
    raise ValueError(f"unknown timestamp style {style!r}")


def full_name(records: Records, last_first: np.ndarray) -> pa.Array:
    """`First M Last Jr`, or `Last, First M Jr` where `last_first` is set."""
    join = pc.binary_join_element_wise
    natural = join(records.first, records.middle, records.last, records.suffix, " ",
                   null_handling="skip")
    given = join(records.first, records.middle, " ", null_handling="skip")
    inverted = join(join(records.last, ",", ""), given, records.suffix, " ",
                    null_handling="skip")
    return pc.if_else(pa.array(last_first), inverted, natural)


def street_line(records: Records) -> pa.Array:
    """Street and unit on one line, as single-address-field systems keep them."""
    return pc.binary_join_element_wise(records.street, records.unit, " ", null_handling="skip")


class SqliteLeads:
    """One old campaign tool's SQLite file with its `leads` table."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=OFF")
        self.connection.execute("PRAGMA synchronous=OFF")
        self.connection.execute(LEADS_DDL)
        self.connection.execute("BEGIN")
        self.rows = 0

    def write(self, records: Records, rng: np.random.Generator) -> np.ndarray:
        """Insert the batch; returns the rowids it got."""
        name = full_name(records, rng.random(len(records)) < 0.3)
        columns = [name, records.email, records.phone, street_line(records), records.city,
                   records.state, records.zip, timestamp_text(records.created_at, "iso")]
        self.connection.executemany(
            "INSERT INTO leads VALUES (?,?,?,?,?,?,?,?)",
            zip(*(column.to_pylist() for column in columns), strict=True),
        )
        keys = self.rows + 1 + np.arange(len(records))
        self.rows += len(records)
        return keys

    def close(self) -> None:
        """Commit the single transaction and close the file."""
        self.connection.execute("COMMIT")
        self.connection.close()


@dataclass(frozen=True)
class CsvLayout:
    """One campaign CSV's shape: which logical columns, under which headers, in what order."""

    columns: tuple[tuple[str, str], ...]
    """(logical field, header) pairs in file order."""
    date_style: str
    quote_all: bool


CSV_DATE_STYLES = ("iso", "us_date", "iso_t", "us_datetime", "date")


def draw_csv_layout(rng: np.random.Generator, synonyms: dict[str, list[str]]) -> CsvLayout:
    """A header layout from the tenant's header synonyms (the logical name where it has none).

    Half the files carry a full name, half first and last; half keep a second address line.
    """
    names = ["full_name"] if rng.random() < 0.5 else ["first_name", "last_name"]
    street = ["street", "street2"] if rng.random() < 0.5 else ["street"]
    logical = [*names, "email", "phone", *street, "city", "state", "zip", "updated_at"]
    tail = logical[len(names):]
    order = [*names, *[tail[i] for i in rng.permutation(len(tail))]] if rng.random() < 0.3 \
        else logical
    columns = []
    for field in order:
        options = synonyms.get(field) or [field]
        columns.append((field, options[int(rng.integers(0, len(options)))]))
    return CsvLayout(
        columns=tuple(columns),
        date_style=CSV_DATE_STYLES[int(rng.integers(0, len(CSV_DATE_STYLES)))],
        quote_all=bool(rng.random() < 0.5),
    )


class CampaignCsv:
    """A campaign CSV file: a header of synonyms, then one row per record."""

    def __init__(self, path: Path, layout: CsvLayout) -> None:
        self.layout = layout
        self.file = path.open("wb")
        header = [heading for _, heading in layout.columns]
        text = ",".join(csv_quote(h) if layout.quote_all else h for h in header)
        self.file.write((text + "\n").encode())
        self.schema = pa.schema([(heading, pa.string()) for heading in header])
        style = "all_valid" if layout.quote_all else "needed"
        self.writer = pacsv.CSVWriter(self.file, self.schema, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style=style))
        self.rows = 0

    def _column(self, field: str, records: Records) -> pa.Array:
        two_lines = any(f == "street2" for f, _ in self.layout.columns)
        if field == "full_name":
            return full_name(records, np.zeros(len(records), bool))
        if field == "updated_at":
            return timestamp_text(records.updated_at, self.layout.date_style)
        if field == "street":
            return records.street if two_lines else street_line(records)
        attribute = {"first_name": "first", "last_name": "last", "street2": "unit"}
        return getattr(records, attribute.get(field, field))

    def write(self, records: Records, rng: np.random.Generator) -> np.ndarray:
        """Append the batch; returns 1-based data-row numbers (the header is not counted)."""
        columns = [self._column(field, records) for field, _ in self.layout.columns]
        self.writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        keys = self.rows + 1 + np.arange(len(records))
        self.rows += len(records)
        return keys

    def close(self) -> None:
        """Flush and close the file."""
        self.writer.close()
        self.file.close()


def csv_quote(text: str) -> str:
    """A CSV field in double quotes, as quote-everything exporters write it."""
    return '"' + text.replace('"', '""') + '"'


def contacts_columns(records: Records, rng: np.random.Generator, first_id: int,
                     ) -> tuple[np.ndarray, list[pa.Array]]:
    """The `contacts` row of each record, in `CONTACTS_COLUMNS` order, and the ids."""
    n = len(records)
    ids = first_id + np.arange(n)
    split = pa.array(rng.random(n) < 0.7)
    name = full_name(records, rng.random(n) < 0.25)
    source = pa.array(LEAD_SOURCES, pa.string()).take(
        pa.array(rng.integers(0, len(LEAD_SOURCES), n)))
    columns = [
        pa.array(ids).cast(pa.string()),
        pc.if_else(split, records.first, _NULL),
        pc.if_else(split, records.last, _NULL),
        pc.if_else(split, _NULL, name),
        records.email, records.phone, records.phone2, records.street, records.unit,
        records.city, records.state, records.zip, source,
        timestamp_text(records.created_at, "iso"), timestamp_text(records.updated_at, "iso"),
    ]
    return ids, columns


def sql_literals(column: pa.Array, numeric: bool = False) -> pa.Array:
    """MySQL literals as mysqldump writes them: quoted and escaped strings, NULL."""
    if numeric:
        return pc.fill_null(column, "NULL")
    text = column
    for old, new in (("\\", "\\\\"), ("'", "\\'"), ("\n", "\\n"), ("\r", "\\r")):
        text = pc.replace_substring(text, old, new)
    quoted = pc.binary_join_element_wise("'", text, "'", "")
    return pc.fill_null(quoted, "NULL")


class MysqlDump:
    """A mysqldump of `legacy_crm.contacts`: multi-row INSERTs of about 1 MB each."""

    STATEMENT_BYTES = 1_000_000

    def __init__(self, path: Path, dumped_at: str) -> None:
        self.file = path.open("w", encoding="utf-8", newline="\n")
        self.dumped_at = dumped_at
        self.rows = 0
        self.file.write(_DUMP_HEAD + "DROP TABLE IF EXISTS `contacts`;\n"
                        "/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
                        "/*!40101 SET character_set_client = utf8 */;\n"
                        f"{CONTACTS_DDL};\n"
                        "/*!40101 SET character_set_client = @saved_cs_client */;\n\n"
                        "--\n-- Dumping data for table `contacts`\n--\n\n"
                        "LOCK TABLES `contacts` WRITE;\n"
                        "/*!40000 ALTER TABLE `contacts` DISABLE KEYS */;\n")

    def write(self, records: Records, rng: np.random.Generator) -> np.ndarray:
        """Append INSERT statements for the batch; returns the contact ids."""
        ids, columns = contacts_columns(records, rng, self.rows + 1)
        literals = [sql_literals(c, numeric=(i == 0)) for i, c in enumerate(columns)]
        tuples = pc.binary_join_element_wise("(", pc.binary_join_element_wise(
            *literals, ","), ")", "").to_pylist()
        size = 0
        statement: list[str] = []
        for value in tuples:
            statement.append(value)
            size += len(value) + 1
            if size >= self.STATEMENT_BYTES:
                self._insert(statement)
                statement, size = [], 0
        if statement:
            self._insert(statement)
        self.rows += len(records)
        return ids

    def _insert(self, values: list[str]) -> None:
        self.file.write("INSERT INTO `contacts` VALUES " + ",".join(values) + ";\n")

    def close(self) -> None:
        """Write mysqldump's closing lines."""
        self.file.write("/*!40000 ALTER TABLE `contacts` ENABLE KEYS */;\nUNLOCK TABLES;\n"
                        + _DUMP_TAIL + f"-- Dump completed on {self.dumped_at}\n")
        self.file.close()


_DUMP_HEAD = """-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: legacy_crm
-- ------------------------------------------------------
-- Server version\t10.11.6-MariaDB-0+deb12u1

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Table structure for table `contacts`
--

"""

_DUMP_TAIL = """/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

"""


@dataclass(frozen=True)
class MysqlTarget:
    """Where `--mysql URL` points: server credentials and the database (default legacy_crm)."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def parse(cls, url: str) -> MysqlTarget:
        """Read `mysql://user:password@host:port/database`."""
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
            raise ValueError(f"not a mysql:// URL: {url!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=parts.path.strip("/") or "legacy_crm",
        )


_LOCAL_INFILE_REFUSED = (1148, 2068, 3948, 4166)
"""Server or client error codes that mean LOAD DATA LOCAL INFILE is switched off."""


class MariaDbContacts:
    """`contacts` in a MariaDB/MySQL server, loaded batch by batch with LOAD DATA LOCAL INFILE.

    The table is dropped and created fresh, so a re-run with the same seed gives the same
    rows. Where the server refuses LOCAL INFILE, multi-row INSERTs are used instead.
    """

    def __init__(self, url: str) -> None:
        import pymysql

        target = MysqlTarget.parse(url)
        self.database = target.database
        self.connection = pymysql.connect(
            host=target.host, port=target.port, user=target.user, password=target.password,
            charset="utf8mb4", local_infile=True, autocommit=True,
        )
        with self.connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}` "
                           "CHARACTER SET utf8mb4")
            cursor.execute(f"USE `{self.database}`")
            cursor.execute("DROP TABLE IF EXISTS `contacts`")
            cursor.execute(CONTACTS_DDL)
        self.rows = 0
        self.local_infile = True
        self._mysql_error = pymysql.MySQLError

    def write(self, records: Records, rng: np.random.Generator) -> np.ndarray:
        """Load the batch; returns the contact ids."""
        ids, columns = contacts_columns(records, rng, self.rows + 1)
        self.rows += len(records)
        if self.local_infile:
            try:
                self._load_data(columns)
                return ids
            except self._mysql_error as error:
                if not error.args or error.args[0] not in _LOCAL_INFILE_REFUSED:
                    raise
                self.local_infile = False
        self._insert(columns)
        return ids

    def _load_data(self, columns: list[pa.Array]) -> None:
        table = pa.Table.from_arrays([pc.fill_null(c, "\\N") for c in columns],
                                     names=list(CONTACTS_COLUMNS))
        handle, name = tempfile.mkstemp(suffix=".tsv")
        os.close(handle)
        try:
            pacsv.write_csv(table, name, write_options=pacsv.WriteOptions(
                include_header=False, delimiter="\t", quoting_style="none"))
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE %s INTO TABLE `contacts` CHARACTER SET utf8mb4 "
                    f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' "
                    f"({', '.join(CONTACTS_COLUMNS)})", (name,))
        finally:
            os.unlink(name)

    def _insert(self, columns: list[pa.Array]) -> None:
        rows = list(zip(*(c.to_pylist() for c in columns), strict=True))
        placeholders = ",".join(["%s"] * len(CONTACTS_COLUMNS))
        with self.connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO `contacts` ({', '.join(CONTACTS_COLUMNS)}) "
                               f"VALUES ({placeholders})", rows)

    def close(self) -> None:
        """Close the connection (every batch is already committed)."""
        self.connection.close()

