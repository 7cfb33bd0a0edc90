"""The print file of the pieces we barcode at mail production (FORMATS.md section 2).

For M15 partners the pipeline assigns each piece's tracking code; the print
shop needs the bar string to print. One CSV per mortgage batch goes to the
landing zone under `print/<partner>/`.
"""

from __future__ import annotations

import csv
import io

import psycopg

import imb
from db.queries import sql
from tasks.landing_zone import LandingZone

HEADER = ["tracking_code", "bars", "routing_code", "record_id", "name", "street", "city",
          "state", "zip", "zip4"]


def write_print_file(conn: psycopg.Connection, zone: LandingZone, batch_id: int,
                     partner: str, filename: str) -> tuple[str, int]:
    """Write the print file of a batch; returns its URI and the number of pieces."""
    rows = conn.execute(sql("print_file_rows"), {"batch_id": batch_id}).fetchall()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for tracking, routing, record_id, name, *address in rows:
        writer.writerow([tracking, imb.encode(tracking, routing), routing, record_id, name,
                         *address])
    stem = filename.rsplit(".", 1)[0]
    uri = zone.put(f"print/{partner}/{stem}_batch{batch_id}_print.csv",
                   out.getvalue().encode("utf-8"))
    return uri, len(rows)
