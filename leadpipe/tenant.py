"""Tenant parameter files: everything that differs between clients and partners.

A tenant file (`deployments/tenants/<name>.toml`) holds the partner
definitions of FORMATS.md (file-name patterns, channel, column maps, mailer
ids, tracking phone numbers), the transport endpoints, the database and the
schedules. Secrets appear only as references (`{ env = "NAME" }` or
`{ prefect_secret = "block-name" }`), resolved when a connection is made.
Loading validates the whole file and reports the first problem as one line
naming the key, e.g. `partners.harbor.mortgage.filename: bad regular expression`.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from leadpipe import settings
from leadpipe.errors import UserError

# The fifteen logical fields of a mortgage row (FORMATS.md section 3).
MORTGAGE_FIELDS = (
    "record_id", "recording_date", "borrower", "co_borrower", "street", "city", "state",
    "zip", "county", "loan_amount", "loan_type", "lender", "phone", "mail_piece_type",
    "mailer_version",
)
MORTGAGE_REQUIRED = ("record_id", "borrower", "street", "zip")
# M32 carries these two more.
M32_EXTRA_FIELDS = ("barcode", "mail_date")

MortgageFormat = Literal["M15", "M32"]
DeliveryFormat = Literal["D1", "D2", "D3", "D4"]
ChannelKind = Literal["ftps", "graph", "sftp", "local", "s3"]


class SecretRef(BaseModel):
    """Where a secret lives; the value itself is never in the tenant file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    prefect_secret: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.prefect_secret is None):
            raise ValueError("give exactly one of 'env' or 'prefect_secret'")
        return self

    def resolve(self) -> str:
        """The secret's value, read at the moment a connection needs it."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise UserError(f"secret environment variable {self.env} is not set")
            return value
        from prefect.blocks.system import Secret

        return Secret.load(self.prefect_secret).get()

    def __str__(self) -> str:
        return f"env:{self.env}" if self.env else f"prefect-secret:{self.prefect_secret}"


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return value


def _strftime(value: str) -> str:
    if "%" not in value:
        raise ValueError(f"date format {value!r} has no % directive")
    probe = date(2024, 12, 31)
    try:
        if datetime.strptime(probe.strftime(value), value).date() != probe:
            raise ValueError(f"date format {value!r} does not round-trip a date")
    except ValueError as exc:
        raise ValueError(f"bad date format {value!r}: {exc}") from None
    return value


def _e164(value: str) -> str:
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", value):
        raise ValueError(f"{value!r} is not an E.164 phone number (like +18005550100)")
    return value


Regex = Annotated[str, AfterValidator(_regex)]
DateFormat = Annotated[str, AfterValidator(_strftime)]
PhoneE164 = Annotated[str, AfterValidator(_e164)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Channel(_Strict):
    """A transport endpoint; which keys apply depends on `kind`."""

    kind: ChannelKind
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    folder: str | None = None
    username: str | None = None
    password: SecretRef | None = None
    private_key: SecretRef | None = None
    known_hosts: str | None = None
    ca_file: str | None = None
    # Microsoft Graph shared mailbox.
    authority_tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretRef | None = None
    mailbox: str | None = None
    processed_folder: str | None = None
    graph_url: str = "https://graph.microsoft.com/v1.0"
    authority_host: str = "https://login.microsoftonline.com"
    # S3 through prefect-aws.
    bucket: str | None = None
    credentials_block: str | None = None

    @model_validator(mode="after")
    def _required_for_kind(self) -> Channel:
        needed = {
            "ftps": ("host", "folder", "username", "password"),
            "sftp": ("host", "folder", "username", "private_key", "known_hosts"),
            "graph": ("authority_tenant_id", "client_id", "client_secret", "mailbox",
                      "processed_folder"),
            "local": ("folder",),
            "s3": ("bucket",),
        }[self.kind]
        for key in needed:
            if getattr(self, key) is None:
                raise ValueError(f"{key}: required key is missing for a {self.kind} channel")
        return self


class MortgageFeed(_Strict):
    """A partner's daily mortgage-closing file."""

    format: MortgageFormat
    filename: Regex
    columns: dict[str, str]
    date_format: DateFormat | None = None
    encoding: str = "utf-8"

    @model_validator(mode="after")
    def _columns_cover_fields(self) -> MortgageFeed:
        expected = set(MORTGAGE_FIELDS) | (set(M32_EXTRA_FIELDS) if self.format == "M32" else set())
        for field in sorted(set(self.columns) - expected):
            raise ValueError(f"columns.{field}: not a logical field of an {self.format} file")
        for field in sorted(expected - set(self.columns)):
            raise ValueError(f"columns.{field}: required key is missing (the file's header)")
        if self.format == "M15" and self.date_format is None:
            raise ValueError("date_format: required key is missing for an M15 file")
        return self


class DeliveryFeed(_Strict):
    """A partner's delivery-confirmation file."""

    format: DeliveryFormat
    filename: Regex


class Partner(_Strict):
    """One mail partner: its channel, its files and its barcode identity."""

    name: str
    channel: str
    mailer_id: str = Field(pattern=r"^[0-8][0-9]{5}$")
    tracking_phones: dict[Literal["A", "B"], PhoneE164]
    mortgage: MortgageFeed
    delivery: DeliveryFeed


class CallCenter(_Strict):
    """The call center's daily disposition file."""

    channel: str
    filename: Regex


class Endpoint(_Strict):
    """An HTTP API (Pipedrive, RingCentral) and how to authenticate to it."""

    base_url: str
    api_token: SecretRef | None = None
    client_id: str | None = None
    client_secret: SecretRef | None = None
    jwt: SecretRef | None = None


class Landing(_Strict):
    """Where inbound bytes are kept before parsing.

    A folder (relative to LEADPIPE_HOME) or `s3://bucket/prefix` through the
    prefect-aws `S3Bucket` block named by `credentials_block`.
    """

    uri: str = "landing"
    credentials_block: str | None = None

    @model_validator(mode="after")
    def _s3_needs_credentials(self) -> Landing:
        if self.uri.startswith("s3://") and not self.credentials_block:
            raise ValueError("credentials_block: required key is missing for an s3:// uri")
        return self


class Legacy(_Strict):
    """The legacy sources of the full migration."""

    mysql_url: SecretRef | None = None
    mysql_table: str = "contacts"
    header_synonyms: dict[str, list[str]] = Field(default_factory=dict)


class FrequencyCap(_Strict):
    """At most `max_contacts` contacts on a channel within `period_days`."""

    max_contacts: int = Field(gt=0)
    period_days: int = Field(gt=0)


class Tenant(_Strict):
    """A whole tenant parameter file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    timezone: str = "America/New_York"
    database_url: SecretRef | None = None
    schedules: dict[str, str] = Field(default_factory=dict)
    landing: Landing = Field(default_factory=Landing)
    channels: dict[str, Channel]
    partners: dict[str, Partner]
    call_center: CallCenter | None = None
    pipedrive: Endpoint | None = None
    ringcentral: Endpoint | None = None
    legacy: Legacy = Field(default_factory=Legacy)
    frequency_caps: dict[Literal["mail", "phone", "sms", "email"], FrequencyCap] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> Tenant:
        for key in self.partners:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise ValueError(f"partners.{key}: a partner key is lower-case letters, digits, _")
        users = [(f"partners.{k}.channel", p.channel) for k, p in self.partners.items()]
        if self.call_center:
            users.append(("call_center.channel", self.call_center.channel))
        for where, name in users:
            if name not in self.channels:
                known = ", ".join(sorted(self.channels)) or "none"
                raise ValueError(f"{where}: unknown channel {name!r} (defined: {known})")
        mailer_ids: dict[str, str] = {}
        for key, partner in self.partners.items():
            if partner.mailer_id in mailer_ids:
                raise ValueError(
                    f"partners.{key}.mailer_id: {partner.mailer_id} is also "
                    f"partners.{mailer_ids[partner.mailer_id]}'s"
                )
            mailer_ids[partner.mailer_id] = key
        return self

    def partner_for_file(self, filename: str) -> tuple[str, str] | None:
        """The (partner key, feed kind) whose file-name pattern matches, or None.

        Partner identity comes from the file name only, never from the channel.
        """
        for key, partner in self.partners.items():
            if re.fullmatch(partner.mortgage.filename, filename):
                return key, "mortgage"
            if re.fullmatch(partner.delivery.filename, filename):
                return key, "delivery"
        return None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "required key is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "literal_error":
        message = f"{first['input']!r} is not one of the allowed values ({message})"
    # A model-level check names its own key, relative to the model, first.
    own_key = re.match(r"^([A-Za-z_][\w.-]*): (.*)$", message, re.DOTALL)
    if own_key:
        where = f"{where}.{own_key[1]}" if where else own_key[1]
        message = own_key[2]
    return f"{where}: {message}"


def parse(data: dict[str, Any], source: str = "<tenant>") -> Tenant:
    """Validate a tenant mapping; raises UserError naming the bad key."""
    try:
        return Tenant.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{source}: {_describe(exc)}") from None


def load(name_or_path: str | Path | None = None) -> Tenant:
    """Load a tenant by name (from `deployments/tenants/`) or by file path."""
    ref = str(name_or_path or settings.default_tenant())
    path = Path(ref)
    if path.suffix != ".toml":
        path = settings.tenants_dir() / f"{ref}.toml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"tenant file not found: {path}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, str(path))
