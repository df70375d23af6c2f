"""Which assets the broker lists and which the trader keeps at hand, read from ``qf:events``."""

from __future__ import annotations

import redis

from quantumflux.backfill.config import BackfillSettings
from quantumflux.backfill.worker import NoAnswer, favourite_assets, latest_events, picked_assets
from quantumflux.bus.config import BusSettings
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Event, pack


def settings_of(bus: BusSettings) -> BackfillSettings:
    return BackfillSettings(redis_url=bus.redis_url, prefix=bus.prefix, data_dir=bus.data_dir)


def publish(client: redis.Redis, prefix: str, *events: Event) -> None:
    for ev in events:
        client.xadd(Keys(prefix).events(), {"d": pack(ev)})


def picked(asset: str, ts: float) -> Event:
    return Event("platform_state", ts, {"asset": asset, "period": 60, "source": "changeSymbol"})


def test_without_favourites_the_assets_picked_on_the_page_newest_first(
    rclient: redis.Redis, bus_settings: BusSettings
) -> None:
    assert favourite_assets(settings_of(bus_settings)) == []
    publish(rclient, bus_settings.prefix, picked("A_otc", 1), picked("B_otc", 2), picked("A_otc", 3))
    rclient.xadd(Keys(bus_settings.prefix).events(), {"d": b"not a record"})
    assert favourite_assets(settings_of(bus_settings)) == ["A_otc", "B_otc"]
    events = latest_events(rclient, Keys(bus_settings.prefix).events())
    assert [e.ts for e in events] == [3, 2, 1] and picked_assets(events) == ["A_otc", "B_otc"]


def test_the_favourites_the_page_loaded_come_first(rclient: redis.Redis, bus_settings: BusSettings) -> None:
    publish(
        rclient,
        bus_settings.prefix,
        picked("A_otc", 1),
        Event("favorites", 2, {"assets": ["C_otc", "D_otc", 7]}),
    )
    assert favourite_assets(settings_of(bus_settings)) == ["C_otc", "D_otc"]


def test_no_answer_names_the_asset_and_what_the_broker_lists() -> None:
    text = str(NoAnswer("NOPE_otc", ["A_otc", "B_otc"]))
    assert "'NOPE_otc'" in text and text.endswith("Assets it lists: A_otc, B_otc")
    assert str(NoAnswer("X", [])).endswith("Assets it lists: none seen yet")
