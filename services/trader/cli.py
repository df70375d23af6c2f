"""``qf trader`` (the service) and ``qf trade`` (orders by hand, the kill switch, the status). Light imports only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from quantumflux.trader.store import OrderStore

REAL_MONEY_HELP = (
    "Confirm that QF_TRADE=real may place orders with real money. Deliberately not a setting: "
    "a variable left in the environment must never be enough."
)
ANSWER_WAIT = 10.0


def trader(
    real_money: Annotated[bool, typer.Option("--real-money", help=REAL_MONEY_HELP)] = False,
) -> None:
    """Place the orders the strategies call for, through your own page, within the risk limits (QF_TRADE)."""
    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.trader.config import TraderSettings

    settings = settings_or_exit(TraderSettings, "trader")
    if settings.trade == "off":
        typer.echo(
            "trader: trading is off (QF_TRADE=off): nothing will be placed; set QF_TRADE=demo to start."
        )
        raise typer.Exit(0)
    if settings.trade == "real" and not real_money:
        typer.echo(
            "trader: QF_TRADE=real places orders with real money; start it with --real-money to confirm.",
            err=True,
        )
        raise typer.Exit(2)
    if settings.trade == "real":
        typer.echo("trader: REAL MONEY. Limits in force:")
        for name, value in settings.limits().to_map().items():
            typer.echo(f"  {name}: {value}")
    from quantumflux.trader.worker import main

    raise typer.Exit(main(settings, real_money))


def trade(
    what: Annotated[str, typer.Argument(help="call, put, stop, resume or status.")],
    asset: Annotated[str | None, typer.Argument(help="The asset of a call or put, e.g. EURUSD_otc.")] = None,
    amount: Annotated[float | None, typer.Option(help="Stake of a call or put.")] = None,
    expiry: Annotated[int, typer.Option(help="Length of a call or put in seconds (5 or more).")] = 60,
    as_json: Annotated[bool, typer.Option("--json", help="status: print JSON instead of tables.")] = False,
) -> None:
    """Trade by hand through the same risk rules, stop trading at once, resume it, or see its status."""
    import redis

    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.bus.config import BusSettings
    from quantumflux.bus.keys import Keys
    from quantumflux.trader.store import OrderStore

    settings = settings_or_exit(BusSettings, "trade")
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=ANSWER_WAIT + 5)
    store = OrderStore(client, Keys(settings.prefix))
    try:
        code = _trade(store, what, asset, amount, expiry, as_json)
    except redis.RedisError as exc:
        typer.echo(f"trade: Redis at {settings.redis_url} does not answer ({exc})", err=True)
        code = 1
    raise typer.Exit(code)


def _trade(
    store: OrderStore, what: str, asset: str | None, amount: float | None, expiry: int, as_json: bool
) -> int:
    import json
    import uuid

    if what == "status":
        status = store.status()
        if status is None:
            typer.echo("trade: the trader is not running (no status in Redis); `qf trader` starts it.")
            return 1
        if as_json:
            typer.echo(json.dumps(status, indent=2, default=str))
        else:
            from quantumflux.trader.view import show

            show(status)
        return 0
    if what == "stop":
        store.kill_switch("stopped by the trader (qf trade stop)")
        typer.echo("trading stopped: nothing new is placed; open orders are followed to their close.")
        return 0
    if what == "resume":
        store.clear_stop()
        store.command({"cmd": "resume"})
        typer.echo("trading resumed.")
        return 0
    if what not in ("call", "put") or not asset or amount is None:
        typer.echo(
            "trade: use `qf trade call|put ASSET --amount A [--expiry S]`, stop, resume or status.", err=True
        )
        return 2
    cid = uuid.uuid4().hex
    store.command(
        {"cmd": "order", "id": cid, "asset": asset, "action": what, "amount": amount, "expiry": expiry}
    )
    answer = store.wait_answer(cid, ANSWER_WAIT)
    if answer is None:
        typer.echo("trade: the trader did not answer; is `qf trader` running?", err=True)
        return 1
    if answer.get("ok"):
        typer.echo(f"order {answer.get('request_id')} sent: {what} {asset} {amount:g} for {expiry} s")
        return 0
    typer.echo(f"trade: not placed: {answer.get('message')}", err=True)
    return 1


COMMANDS = {"trader": trader, "trade": trade}
