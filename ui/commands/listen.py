"""``hospital-twin listen``: the HL7 v2 ADT feed over MLLP, into the store.

Registered by ``ui/cli.py``: ``app.command("listen")(listen)``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console

from ops.settings import SaltNotConfigured
from ops.store import open_store
from ui.listener import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PORT, ListenerSettings, run_listener


def listen(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (127.0.0.1: this machine; the engine's side of a tunnel)."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port (2575 is HL7's; 0: any free port).")
    ] = (DEFAULT_PORT),
    database: Annotated[
        str | None, typer.Option(help="Store URL; DATABASE_URL, else var/hospital_twin.db, when absent.")
    ] = None,
    local_timezone: Annotated[
        str, typer.Option(help="Zone of HL7 times sent without a UTC offset, e.g. Europe/London.")
    ] = "UTC",
    max_message_kb: Annotated[
        int, typer.Option(min=1, help="Largest message accepted [KiB]; larger ones are answered AR.")
    ] = DEFAULT_MAX_MESSAGE_BYTES // 1024,
    parse_workers: Annotated[
        int, typer.Option(min=0, max=32, help="Processes parsing messages (0: parse in the listener).")
    ] = 2,
    log_level: Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")] = "info",
) -> None:
    """Receive HL7 v2 ADT messages over MLLP: store each event, then acknowledge it (AA / AE / AR).

    A message is acknowledged AA only once its event is committed. A resent message (same sender MSH-3/MSH-4
    and control id MSH-10) is acknowledged again and not applied twice. Malformed and unsupported messages
    are quarantined with the reason and answered AE or AR.

    The pseudonymisation salt comes from HOSPITAL_TWIN_SALT, HOSPITAL_TWIN_SALT_FILE, or (embedded store)
    the salt file beside the database. SIGTERM or Ctrl+C stops it after the messages in flight are
    committed and acknowledged.
    """
    try:
        zone = ZoneInfo(local_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            f"unknown time zone {local_timezone!r}", param_hint="--local-timezone"
        ) from None
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = ListenerSettings(
        host=host,
        port=port,
        local_timezone=zone,
        max_message_bytes=max_message_kb * 1024,
        parse_workers=parse_workers,
    )
    console = Console(highlight=False)
    with open_store(database) as store:

        def ready(address: tuple[str, int]) -> None:
            console.print(
                f"Listening for HL7 v2 over MLLP on {address[0]}:{address[1]} (store {store.url}); "
                "Ctrl+C stops it.",
                markup=False,
                highlight=False,
            )

        try:
            counts = asyncio.run(run_listener(store, settings, on_ready=ready))
        except SaltNotConfigured as problem:
            typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(code=2) from None
    console.print(
        f"Stopped: {counts.received} messages, {counts.accepted} AA ({counts.duplicates} already stored), "
        f"{counts.errors} AE, {counts.rejected} AR, {counts.quarantined} quarantined.",
        markup=False,
        highlight=False,
    )
