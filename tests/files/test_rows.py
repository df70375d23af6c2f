"""The chunk writer's pure core: lines and how they are cut into chunks."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from quantumflux.bus.records import Candle, Payout
from quantumflux.files.rows import Position, RowFormatter, plan


def test_rows_are_iso_utc_csv() -> None:
    fmt = RowFormatter()
    t0 = datetime(2026, 11, 22, 3, 5, tzinfo=UTC).timestamp()
    assert fmt.tick(t0 + 0.25, 1.08123) == "2026-11-22T03:05:00.250Z,1.08123\n"
    assert fmt.tick(t0 + 61.5, 2.0) == "2026-11-22T03:06:01.500Z,2.0\n"
    c = Candle("EURUSD_otc", 60, int(t0), 1.1, 1.3, 1.0, 1.2, 17, True)
    # A live candle: no volume from the broker, complete.
    assert fmt.candle(c) == "2026-11-22T03:05:00Z,1.1,1.3,1.0,1.2,17,,1\n"


def test_candle_rows_carry_volume_and_complete() -> None:
    fmt = RowFormatter()
    t0 = int(datetime(2026, 11, 22, 3, 5, tzinfo=UTC).timestamp())
    partial = Candle("EURUSD_otc", 60, t0, 1.1, 1.3, 1.0, 1.2, 4, True, complete=False)
    broker = Candle("EURUSD_otc", 300, t0, 1.5, 1.5, 1.25, 1.25, 0, True, complete=True, volume=812)
    assert fmt.candle(partial) == "2026-11-22T03:05:00Z,1.1,1.3,1.0,1.2,4,,0\n"
    assert fmt.candle(broker) == "2026-11-22T03:05:00Z,1.5,1.5,1.25,1.25,0,812,1\n"


def test_payout_rows_keep_the_brokers_number_and_milliseconds() -> None:
    t0 = datetime(2026, 11, 22, 3, 5, tzinfo=UTC).timestamp()
    assert (
        RowFormatter.payout(Payout("EURUSD_otc", t0 + 0.25, 92.0, True)) == "2026-11-22T03:05:00.250Z,92,1\n"
    )
    assert (
        RowFormatter.payout(Payout("EURUSD_otc", t0 + 61, 87.5, False)) == "2026-11-22T03:06:01.000Z,87.5,0\n"
    )


@given(
    start=st.integers(min_value=0, max_value=30),
    size=st.integers(min_value=1, max_value=25),
    n=st.integers(min_value=0, max_value=120),
)
def test_plan_cuts_a_new_chunk_every_n_rows(start: int, size: int, n: int) -> None:
    start = min(start, size)
    key = ("ticks", "A", None)
    lines = [f"{i}\n" for i in range(n)]
    appends, moved = plan({key: Position(3, start)}, {key: lines}, {"ticks": size})
    # Independent view: row k (counting the rows already in chunk 3) lands in chunk 3 + k // size.
    expect: dict[int, list[str]] = {}
    for i, line in enumerate(lines):
        expect.setdefault(3 + (start + i) // size if start + i >= size else 3, []).append(line)
    got: dict[int, list[str]] = {}
    for a in appends:
        assert len(a.lines) + a.rows_before <= size
        got.setdefault(a.chunk, []).extend(a.lines)
    assert got == expect
    if n:
        last = max(expect)
        assert moved[key] == Position(last, start + n - (last - 3) * size)


def test_series_are_kept_apart_and_new_ones_start_at_chunk_one() -> None:
    a, b = ("ticks", "A", None), ("candles", "A", 60)
    appends, moved = plan({}, {a: ["1\n", "2\n"], b: ["x\n"]}, {"ticks": 10, "candles": 10})
    assert [(x.key, x.chunk, x.lines) for x in appends] == [(a, 1, ("1\n", "2\n")), (b, 1, ("x\n",))]
    assert moved == {a: Position(1, 2), b: Position(1, 1)}
