"""Command line for the codec: ``leadpipe imb decode|encode`` prints JSON.

Meant for support staff checking a barcode from a complaint or a scan, and for shell
pipelines, hence JSON on stdout and, for bad input, one line on stderr with exit code 2
(the usage-error code), never a traceback.
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer

from imb.codec import Barcode, encode
from imb.errors import ImbError
from imb.forms import parse

app = typer.Typer(
    help="USPS Intelligent Mail barcode (USPS-B-3200): encode and decode.",
    no_args_is_help=True,
    add_completion=False,
)

EXIT_BAD_INPUT = 2


def describe(barcode: Barcode, bars: str | None = None) -> dict[str, str | int | None]:
    """Every field of ``barcode`` plus its bars (``bars`` if already known), as printed."""
    return {
        "tracking": barcode.tracking,
        "routing": barcode.routing,
        "barcode_id": barcode.barcode_id,
        "service_type": barcode.service_type,
        "mailer_id": barcode.mailer_id,
        "serial": barcode.serial,
        "full": barcode.full,
        "bars": barcode.bars if bars is None else bars,
        "repaired_position": barcode.repaired_position,
    }


def _fail(error: ImbError) -> NoReturn:
    """Report bad input the way the rest of leadpipe's CLI does: one line, exit code 2."""
    typer.echo(f"error ({error.reason}): {error}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command("decode")
def decode_command(
    value: Annotated[
        str, typer.Argument(help="65 bars (ADFT), or 20/25/29/31 digits (tracking + routing).")
    ],
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair a single damaged bar if unambiguous.")
    ] = False,
) -> None:
    """Decode a barcode given as bars or digits and print its fields as JSON."""
    try:
        barcode = parse(value, repair=repair)
    except ImbError as error:
        _fail(error)
    typer.echo(json.dumps(describe(barcode), indent=2))


@app.command("encode")
def encode_command(
    tracking: Annotated[str, typer.Argument(help="20-digit tracking code.")],
    routing: Annotated[str, typer.Argument(help="Routing code: 5, 9 or 11 digits.")] = "",
) -> None:
    """Encode a tracking code and optional routing code; print the bars and fields as JSON."""
    try:
        bars = encode(tracking, routing)
    except ImbError as error:
        _fail(error)
    typer.echo(json.dumps(describe(Barcode(tracking, routing), bars), indent=2))
