"""Collect a channel's new files into the landing zone.

A file is marked processed on its channel only after its bytes are landed and
its batch is recorded, so a run that dies in between fetches it again, and the
landing step records the second copy as a duplicate of the first.
"""

from __future__ import annotations

import psycopg

from leadpipe.tenant import Tenant
from tasks.landing import LandedFile, land
from tasks.landing_zone import LandingZone
from tasks.transports.base import transport_for


def partner_channels(tenant: Tenant) -> list[str]:
    """The channels partner files arrive on, in tenant-file order."""
    return list(dict.fromkeys(p.channel for p in tenant.partners.values()))


def collect_channel(conn: psycopg.Connection, tenant: Tenant, zone: LandingZone,
                    channel: str) -> list[LandedFile]:
    """Fetch, land and mark processed every new file of one channel."""
    transport = transport_for(tenant.channels[channel], channel)
    landed = []
    for remote in transport.list_new():
        data = transport.fetch(remote)
        landed.append(land(conn, tenant, zone, remote.name, data, channel=channel,
                           received_at=remote.modified))
        transport.mark_processed(remote)
    return landed
