"""``hospital-twin token create/list/revoke``: bearer tokens of the API service (stored hashed).

Registered by ``ui/cli.py``: ``app.add_typer(token_app, name="token")``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ops.store import open_store
from ops.store.tokens import ROLES, create_token, list_tokens, revoke_token

token_app = typer.Typer(help="Bearer tokens of the API service (stored hashed).", no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 200)

Database = Annotated[
    str | None, typer.Option(help="Store URL; DATABASE_URL, else var/hospital_twin.db, when absent.")
]


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    name: Annotated[str, typer.Option(help="Who or what holds the token, e.g. ward-dashboard.")],
    database: Database = None,
) -> None:
    """Create a token and print it once: it is stored hashed and cannot be shown again."""
    if role not in ROLES:
        raise typer.BadParameter(f"{role!r} is not one of {', '.join(ROLES)}", param_hint="--role")
    with open_store(database) as store:
        try:
            secret, token = create_token(store, name=name, role=role)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--name") from None
        details = {"token_id": token.id, "role": role, "name": token.name}
        store.write_audit("cli", "create API token", "ok", details)
    print(secret)
    print(
        f"token {token.id} for {token.name!r} ({token.role}): keep it secret, it is not shown again",
        file=sys.stderr,
    )


@token_app.command("list")
def list_(
    include_revoked: Annotated[bool, typer.Option("--all", help="Also show revoked tokens.")] = False,
    database: Database = None,
) -> None:
    """List tokens (id, name, role, created, revoked); never the secrets."""
    with open_store(database) as store:
        tokens = list_tokens(store, include_revoked=include_revoked)
    table = Table(title="API tokens")
    for column in ("id", "name", "role", "created (UTC)", "revoked (UTC)"):
        table.add_column(column)
    for token in tokens:
        table.add_row(
            str(token.id),
            token.name,
            token.role,
            f"{token.created_at:%Y-%m-%d %H:%M}",
            f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "",
        )
    console.print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(help="Id shown by `token list`.")],
    database: Database = None,
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with open_store(database) as store:
        try:
            token = revoke_token(store, token_id)
        except KeyError as error:
            print(str(error.args[0]), file=sys.stderr)
            raise typer.Exit(code=1) from None
        store.write_audit("cli", "revoke API token", "ok", {"token_id": token.id})
    print(f"revoked token {token.id} ({token.name}, {token.role})")
