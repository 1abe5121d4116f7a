"""``shaobao keys``: make and revoke API keys. A key is printed once; only its hash is kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import typer
from sqlalchemy import insert, update

from shared.auth.keys import Role, create_key, validate_scope
from shared.cli.db import transaction
from shared.db.platform import api_keys, audit_log
from shared.domain.owners import OwnerDirectory
from shared.settings import Settings

app = typer.Typer(help="API 密钥 (API keys)", no_args_is_help=True)


async def make_key(
    settings: Settings,
    role: Role,
    channel: str | None = None,
    owner: str | None = None,
    label: str | None = None,
    expires_in_days: int | None = None,
) -> str:
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    async with transaction(settings) as conn:
        key = await create_key(
            conn,
            pepper=settings.key_pepper.get_secret_value(),
            role=role,
            channel=channel,
            owner_id=owner,
            label=label,
            expires_at=expires,
        )
        await conn.execute(
            insert(audit_log).values(
                actor="cli",
                action="keys.create",
                detail={
                    "role": role.value,
                    "channel": channel,
                    "owner": owner,
                    "prefix": key.split("_")[1],
                },
            )
        )
    return key


@app.command("create")
def create(
    role: Role = typer.Option(
        ..., help="channel | department | supervisor | ops | service | admin"
    ),
    channel: str | None = typer.Option(None, help="渠道, for --role channel"),
    owner: str | None = typer.Option(None, help="责任单位 ID, for department/supervisor"),
    label: str | None = typer.Option(None, help="备注"),
    expires_in_days: int | None = typer.Option(None, min=1, help="有效天数"),
) -> None:
    """Create a key and print it once."""
    try:
        validate_scope(role, channel, owner)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    settings = Settings()
    if owner is not None:
        known_owner(settings, owner)
    typer.echo(asyncio.run(make_key(settings, role, channel, owner, label, expires_in_days)))


def known_owner(settings: Settings, owner: str) -> None:
    """A key bound to an owner the directory does not know would see nothing: refused."""
    if OwnerDirectory.load(settings.owners_file).get(owner) is None:
        raise typer.BadParameter(
            f"责任单位 {owner} 不在名录 {settings.owners_file} 中 (unknown owner)",
            param_hint="--owner",
        )


@app.command("revoke")
def revoke(prefix: str = typer.Argument(..., help="密钥前缀 (the part after sbk_)")) -> None:
    """Revoke a key by its prefix."""

    async def go() -> int:
        async with transaction(Settings()) as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            await conn.execute(
                insert(audit_log).values(
                    actor="cli", action="keys.revoke", detail={"prefix": prefix}
                )
            )
            return int(result.rowcount or 0)

    if asyncio.run(go()) == 0:
        typer.echo("没有找到可吊销的密钥 (no such active key)", err=True)
        raise typer.Exit(1)
    typer.echo("已吊销 (revoked)")
