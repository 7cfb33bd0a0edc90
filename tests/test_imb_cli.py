"""The ``imb`` Typer app (mounted as ``leadpipe imb``)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from imb.cli import app

TRACKING = "01234567094987654321"
ROUTING = "01234567891"
BARS = "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA"
FIELDS = {
    "tracking": TRACKING,
    "routing": ROUTING,
    "barcode_id": "01",
    "service_type": "234",
    "mailer_id": "567094",
    "serial": "987654321",
    "full": TRACKING + ROUTING,
    "bars": BARS,
    "repaired_position": None,
}

runner = CliRunner()


@pytest.mark.parametrize("value", [BARS, BARS.lower(), TRACKING + ROUTING, f" {BARS} "])
def test_decode_any_form(value):
    result = runner.invoke(app, ["decode", value])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == FIELDS


def test_decode_tracking_only_has_empty_routing():
    result = runner.invoke(app, ["decode", TRACKING])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["routing"] == ""


def test_decode_repair():
    damaged = BARS[:40] + ("T" if BARS[40] != "T" else "F") + BARS[41:]
    refused = runner.invoke(app, ["decode", damaged])
    assert refused.exit_code == 2
    result = runner.invoke(app, ["decode", "--repair", damaged])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {**FIELDS, "repaired_position": 40}


def test_encode():
    result = runner.invoke(app, ["encode", TRACKING, ROUTING])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == FIELDS
    result = runner.invoke(app, ["encode", TRACKING])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["bars"] == (
        "ATTFATTDTTADTAATTDTDTATTDAFDDFADFDFTFFFFFTATFAAAATDFFTDAADFTFDTDT"
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["decode", "12345"], "length"),
        (["decode", "T" * 65], "character"),
        (["decode", "hello\nworld"], "characters"),
        (["decode", ""], "length"),
        (["encode", "05234567094987654321"], "barcode_id"),
        (["encode", TRACKING, "1234"], "length"),
        (["encode", "0123456709498765432x"], "characters"),
    ],
)
def test_bad_input_exits_2_with_one_line_on_stderr(args, fragment):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert fragment in lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
