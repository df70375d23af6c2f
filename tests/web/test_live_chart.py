"""The live chart in a real Chromium against a real gateway fed with candles published to Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from quantumflux.bus.records import Candle
from tests.web.helpers import Bus, Gateway, Page, probe_url, served_gateway, walk

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ASSETS = ("EURUSD_otc", "GBPUSD_otc")
TIMEFRAMES = (60, 300)


@pytest.fixture
def history(bus: Bus) -> dict[tuple[str, int], list[Candle]]:
    """Closed candles of two assets at two timeframes, as the candle service leaves them."""
    now = int(time.time())
    out = {}
    for i, asset in enumerate(ASSETS):
        for j, tf in enumerate(TIMEFRAMES):
            start = (now // tf - 40) * tf
            candles = walk(asset, tf, 40, start, seed=10 * i + j + 1)
            for c in candles:
                bus.candle(c)
            out[(asset, tf)] = candles
    bus.event("chrome_status", state="connected", reason="")
    bus.event("assets", assets=[{"asset": "EURUSD_otc", "payout": 92}, {"asset": "GBPUSD_otc", "payout": 85}])
    return out


@pytest.fixture
def gateway(test_env: dict[str, str], tmp_path: Path, history: object) -> Iterator[Gateway]:
    with served_gateway(test_env, tmp_path) as gw:
        yield gw


def wait_price(page: Page, price: float, timeout: float = 15) -> None:
    wait_price_of(page, "last-price", price, timeout)


def wait_price_of(page: Page, testid: str, price: float, timeout: float = 15) -> None:
    # The page shows the close as JavaScript prints the float; Python prints the same digits.
    page.wait(testid, attr="data-value", equals=repr(price), timeout=timeout)


def test_live_chart_shows_switches_and_follows(
    gateway: Gateway, page: Page, bus: Bus, history: dict[tuple[str, int], list[Candle]]
) -> None:
    page.do("open", url=probe_url(gateway.url))
    page.wait("connection-status", attr="data-state", equals="connected")
    page.wait("chrome-status", attr="data-state", equals="connected")
    page.wait("live-badge", attr="data-live", equals="true")

    # Only what the gateway has can be picked.
    page.wait("timeframe-select", attr="value", equals="60")
    assert page.do("options", testid="asset-select") == sorted(ASSETS)
    assert page.do("options", testid="timeframe-select") == [str(t) for t in TIMEFRAMES]
    assert page.do("options", testid="provider-select") == ["platform", "csv"]

    page.do("select", testid="asset-select", value="EURUSD_otc")
    page.do("select", testid="timeframe-select", value="60")
    eur = history[("EURUSD_otc", 60)]
    wait_price(page, eur[-1].close)
    page.wait("candle-count", matches=rf"^{len(eur)} candles$")
    page.wait_chart_candles(eur)
    page.shot("live-eurusd-1m")
    forming_close = forming_candle_moves_in_place(page, bus, history)

    # Switching asset and timeframe shows that stream's candles.
    page.do("select", testid="asset-select", value="GBPUSD_otc")
    page.do("select", testid="timeframe-select", value="300")
    gbp5 = history[("GBPUSD_otc", 300)]
    wait_price(page, gbp5[-1].close)
    page.wait("candle-count", matches=rf"^{len(gbp5)} candles$")
    page.wait_chart_candles(gbp5)  # nothing left over from the previous stream
    page.shot("live-gbpusd-5m")

    two_charts_side_by_side(page, history)
    charts_follow_pocketoption(page, bus, history, forming_close)


def forming_candle_moves_in_place(
    page: Page, bus: Bus, history: dict[tuple[str, int], list[Candle]]
) -> float:
    """The forming candle moves in place, then a new one is appended; returns its last close."""
    eur = history[("EURUSD_otc", 60)]
    nxt = eur[-1].time + 60
    forming = Candle("EURUSD_otc", 60, nxt, eur[-1].close, 1.5, 0.5, 1.23456, 3, False)
    bus.candle(forming)
    wait_price(page, 1.23456)
    page.wait("candle-count", matches=rf"^{len(eur) + 1} candles$")
    bus.candle(replace(forming, close=1.23401, ticks=4))
    wait_price(page, 1.23401)
    page.wait("candle-count", matches=rf"^{len(eur) + 1} candles$")
    # Another asset's updates never reach this chart.
    gbp = history[("GBPUSD_otc", 60)]
    bus.candle(Candle("GBPUSD_otc", 60, gbp[-1].time + 60, 2, 2, 2, 2.5, 1, False))
    bus.candle(replace(forming, close=1.23399, ticks=5))
    wait_price(page, 1.23399)
    # What the chart itself holds: the history, then the forming candle as last sent, and no
    # candle of the other asset.
    page.wait_chart_candles([*eur, replace(forming, close=1.23399)])
    return 1.23399


def two_charts_side_by_side(page: Page, history: dict[tuple[str, int], list[Candle]]) -> None:
    """Two charts side by side, each with its own stream; indicators drawn on both."""
    gbp5 = history[("GBPUSD_otc", 300)]
    page.do("select", testid="layout-select", value="2")
    page.do("select", testid="asset-select-2", value="EURUSD_otc")
    page.do("select", testid="timeframe-select-2", value="300")
    wait_price_of(page, "last-price-2", history[("EURUSD_otc", 300)][-1].close)
    wait_price(page, gbp5[-1].close)
    page.wait_chart_candles(history[("EURUSD_otc", 300)], chart="chart-2")
    for name in ("sma", "bollinger", "rsi", "macd"):
        page.do("check", testid=f"indicator-{name}", checked=True)
    page.shot("two-charts-indicators")
    page.do("select", testid="layout-select", value="1")


def charts_follow_pocketoption(
    page: Page, bus: Bus, history: dict[tuple[str, int], list[Candle]], eur_close: float
) -> None:
    """Follow PocketOption: what the user picks there moves the chart; the pickers are locked."""
    gbp5 = history[("GBPUSD_otc", 300)]
    page.do("check", testid="follow-platform", checked=True)
    bus.event("platform_state", asset="EURUSD_otc", period=60)
    page.wait("asset-select", attr="value", equals="EURUSD_otc")
    page.wait("timeframe-select", attr="value", equals="60")
    page.wait("platform-state", attr="data-asset", equals="EURUSD_otc")
    wait_price(page, eur_close)
    assert page.do("read", testid="asset-select", attr="disabled") is not None
    page.shot("follow-eurusd-1m")
    bus.event("platform_state", asset="GBPUSD_otc", period=300)
    page.wait("asset-select", attr="value", equals="GBPUSD_otc")
    page.wait("timeframe-select", attr="value", equals="300")
    wait_price(page, gbp5[-1].close)

    # Follow off: PocketOption's pick is still shown, but the chart stays put.
    page.do("check", testid="follow-platform", checked=False)
    bus.event("platform_state", asset="EURUSD_otc", period=60)
    page.wait("platform-state", attr="data-asset", equals="EURUSD_otc")
    # A wrong move would reach this chart's connection before a candle published after it: once
    # that later candle is shown, the chart has had every chance to move.
    marker = Candle("GBPUSD_otc", 300, gbp5[-1].time + 300, gbp5[-1].close, 2.5, 0.5, 1.98765, 1, False)
    bus.candle(marker)
    wait_price(page, marker.close)
    assert page.do("read", testid="asset-select", attr="value") == "GBPUSD_otc"
    assert page.do("read", testid="timeframe-select", attr="value") == "300"
    page.shot("follow-off")


def test_gateway_loss_is_shown_and_recovers(
    gateway: Gateway, page: Page, bus: Bus, history: dict[tuple[str, int], list[Candle]]
) -> None:
    page.do("open", url=gateway.url)
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("select", testid="asset-select", value="EURUSD_otc")
    page.do("select", testid="timeframe-select", value="60")
    eur = history[("EURUSD_otc", 60)]
    wait_price(page, eur[-1].close)
    page.wait("live-badge", attr="data-live", equals="true")

    gateway.kill()
    page.wait("connection-status", attr="data-state", equals="disconnected")
    page.wait("live-badge", attr="data-live", equals="false")
    page.wait("status-banner", attr="data-kind", equals="problem")
    page.shot("gateway-lost")

    # A candle published while the gateway is away reaches the chart after the restart.
    late = Candle("EURUSD_otc", 60, eur[-1].time + 60, 1, 1.1, 0.9, 1.04321, 2, True)
    bus.candle(late)
    gateway.start()
    page.wait("connection-status", attr="data-state", equals="connected", timeout=20)
    page.wait("live-badge", attr="data-live", equals="true")
    page.wait("status-banner", attr="data-kind", equals="recovered")
    page.shot("gateway-recovered")
    wait_price(page, late.close)
    bus.candle(Candle("EURUSD_otc", 60, late.time + 60, 1, 1.1, 0.9, 1.05555, 1, False))
    wait_price(page, 1.05555)
    # The "back online" banner hides by itself.
    page.wait_count("status-banner", 0)


def test_incomplete_candles_are_drawn_apart_with_a_legend(
    gateway: Gateway, page: Page, bus: Bus, history: dict[tuple[str, int], list[Candle]]
) -> None:
    eur = history[("EURUSD_otc", 60)]
    last = eur[-1]
    # A closed candle the capture did not see whole (it fell), then a forming one likewise (it rose).
    gap = replace(last, time=last.time + 60, open=1.2, high=1.21, low=1.18, close=1.19, complete=False)
    forming = replace(gap, time=gap.time + 60, open=1.19, close=1.2, high=1.2, closed=False)
    bus.candle(gap)
    page.do("open", url=probe_url(gateway.url))
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("select", testid="asset-select", value="EURUSD_otc")
    page.do("select", testid="timeframe-select", value="60")
    wait_price(page, gap.close)
    bus.candle(forming)
    wait_price(page, forming.close)

    held = page.chart_candles() or []
    assert [c["time"] for c in held] == [c.time for c in [*eur, gap, forming]]
    whole, drawn_gap, drawn_forming = held[: len(eur)], held[-2], held[-1]
    colour_keys = {"color", "borderColor", "wickColor"}
    assert all(colour_keys.isdisjoint(c) for c in whole), "a complete candle got the incomplete colours"
    for c in (drawn_gap, drawn_forming):
        assert colour_keys <= set(c), f"an incomplete candle is drawn like a complete one: {c}"
    # Each keeps its direction, faded: a falling and a rising one differ.
    assert drawn_gap["color"] != drawn_forming["color"]
    page.wait("incomplete-note", matches=r"faded: capture had a gap")
    page.shot("live-incomplete-candles")
