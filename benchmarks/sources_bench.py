"""Legacy source read speed and memory: rows/s to Arrow on one core per source (CSV, SQLite,
mysqldump; MySQL when a MariaDB/MySQL server answers), peak RSS, and what the raw-JSON column
costs built per row with json.dumps against Arrow's element-wise join. Prints the figures and
writes benchmarks/results/sources.json.

Each source gets its own generated set of `--rows` rows (`leadpipe generate legacy`), and
each measurement runs in its own process pinned to one CPU, so its peak RSS is its own and
the rate is a one-core rate (CPU seconds are reported beside wall seconds, since other work
on a shared machine slows the wall clock but not the CPU count). Targets: CSV and SQLite
100,000 rows/s, MySQL 50,000 rows/s; the dump parser as fast as it goes.

    .venv/bin/python benchmarks/sources_bench.py [--rows 1000000]
        [--mysql mysql://root@127.0.0.1:3306/] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leadpipe.tenant import Tenant

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "sources.json"
TARGETS = {"csv": 100_000, "sqlite": 100_000, "mysql": 50_000}
MYSQL_DATABASE = "leadpipe_sources_bench"
FILE_SOURCES = {"csv": "csv/*.csv", "sqlite": "sqlite/*.sqlite", "sql_dump": "uploads/*.sql"}
JSON_SAMPLE_ROWS = 200_000


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tenant() -> Tenant:
    """The demo tenant, with the `source` spelling of source_name the dump and MySQL need."""
    from leadpipe import tenant as tenant_config

    demo = tenant_config.load("demo")
    synonyms = {**demo.legacy.header_synonyms, "source_name": ["source"]}
    return demo.model_copy(update={"legacy": demo.legacy.model_copy(
        update={"header_synonyms": synonyms})})


def _read_child(refs: list[str]) -> dict[str, float]:
    """Read every source to the end; the figures of this process."""
    from tasks.sources import open_source

    tenant = _tenant()
    rows, raw_bytes = 0, 0
    wall, cpu = time.perf_counter(), time.process_time()
    for ref in refs:
        for batch in open_source(ref, tenant).batches():
            rows += batch.num_rows
            raw_bytes += batch.column("raw").nbytes
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"rows": rows, "files": len(refs), "seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2), "rows_per_s": round(rows / wall),
            "rows_per_s_cpu": round(rows / cpu), "peak_rss_mb": round(_peak_rss_mb()),
            "raw_json_mb": round(raw_bytes / 2**20)}


def _json_child(path: str) -> dict[str, float]:
    """json.dumps per row against `raw_json.json_objects` on one CSV's rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from tasks.sources.csv import read_header
    from tasks.sources.raw_json import json_objects

    header = read_header(Path(path))
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        strings_can_be_null=True, column_types=dict.fromkeys(header, pa.string())))
    table = table.slice(0, JSON_SAMPLE_ROWS).combine_chunks()
    names, columns = table.column_names, [c.chunk(0) for c in table.columns]
    json_objects(names, [c.slice(0, 1000) for c in columns])  # first-call costs not counted
    started = time.process_time()
    per_row = [json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False)
               for values in zip(*(c.to_pylist() for c in columns), strict=True)]
    dumps_s = time.process_time() - started
    started = time.process_time()
    joined = json_objects(names, columns)
    arrow_s = time.process_time() - started
    assert [json.loads(t) for t in joined.to_pylist()[:1000]] == [
        json.loads(t) for t in per_row[:1000]]
    rows = table.num_rows
    return {"rows": rows, "columns": len(names),
            "json_dumps_us_per_row": round(dumps_s * 1e6 / rows, 2),
            "arrow_join_us_per_row": round(arrow_s * 1e6 / rows, 2)}


def _child(args: argparse.Namespace) -> None:
    _pin_to_one_core()
    sys.path.insert(0, str(ROOT))
    figures = _read_child(args.refs) if args.child == "read" else _json_child(args.refs[0])
    print(json.dumps(figures))


def _run_child(kind: str, refs: list[str]) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, *refs]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _generate(rows: int, out: Path, source: str, mysql_url: str | None = None) -> None:
    command = [str(ROOT / ".venv" / "bin" / "leadpipe"), "generate", "legacy", "--rows",
               str(rows), "--seed", "1", "--out", str(out), "--sources", source]
    if mysql_url:
        command += ["--mysql", mysql_url]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)


def _mysql_server(url: str) -> bool:
    import pymysql

    sys.path.insert(0, str(ROOT))
    from tasks.sources.mysql import MysqlLocation

    where = MysqlLocation.parse(url.rstrip("/") + "/mysql")
    try:
        pymysql.connect(host=where.host, port=where.port, user=where.user,
                        password=where.password, connect_timeout=3).close()
    except pymysql.MySQLError:
        return False
    return True


def _drop_database(url: str) -> None:
    import pymysql

    from tasks.sources.mysql import MysqlLocation

    where = MysqlLocation.parse(url)
    with pymysql.connect(host=where.host, port=where.port, user=where.user,
                         password=where.password) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{where.database}`")


def main() -> None:
    """Generate the sources, measure each, print the figures and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per source")
    parser.add_argument("--mysql", default="mysql://root@127.0.0.1:3306/",
                        help="server for the MySQL measurement (skipped if it does not answer)")
    parser.add_argument("--keep", help="generate into (and keep) this folder")
    parser.add_argument("--child", choices=["read", "json"], help=argparse.SUPPRESS)
    parser.add_argument("refs", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sources-bench-"))
    results: dict[str, object] = {}
    files: dict[str, list[str]] = {}
    try:
        for source, pattern in FILE_SOURCES.items():
            out = base / source
            if not any(out.glob(pattern)):
                _generate(args.rows, out, source)
            files[source] = [str(p) for p in sorted(out.glob(pattern))]
            results[source] = _run_child("read", files[source])
        results["raw_json"] = _run_child("json", files["csv"][:1])
        if _mysql_server(args.mysql):
            url = args.mysql.rstrip("/") + "/" + MYSQL_DATABASE
            try:
                _generate(args.rows, base / "mysql", "mysql", url)
                results["mysql"] = _run_child("read", [url])
            finally:
                _drop_database(url)
        else:
            results["mysql"] = {"skipped": f"no server answers at {args.mysql}"}
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    for name, figures in results.items():
        if name == "raw_json" or "skipped" in figures:
            continue
        print(f"{name:9} {figures['rows']:>10,} rows  {figures['seconds']:7.2f} s  "
              f"{figures['rows_per_s']:>9,} rows/s wall  {figures['rows_per_s_cpu']:>9,} rows/s "
              f"CPU  peak RSS {figures['peak_rss_mb']:,} MB")
    if "skipped" in results["mysql"]:
        print(f"mysql     skipped: {results['mysql']['skipped']}")
    raw = results["raw_json"]
    print(f"raw JSON  {raw['columns']} columns: json.dumps per row "
          f"{raw['json_dumps_us_per_row']} us/row, Arrow join {raw['arrow_join_us_per_row']} "
          f"us/row")
    results["targets_rows_per_s_one_core"] = TARGETS
    results["cpu_count"] = os.cpu_count()
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
