"""The decoding core gives, for any mix of entries, what the bus's decoder gives entry by entry."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import msgpack
import pytest

from quantumflux.bus.records import Candle, HistoryBatch, RecordError, Tick, decode, pack, pack_map
from quantumflux.files.layout import TF_SECONDS
from quantumflux.persistence.chunk import MAX_HEADS, ChunkDecoder

T0 = 1795835100.0


def entries(payloads: list[Any]) -> list[Any]:
    """Entries as hiredis returns them: [id, [field, value, …]]."""
    out = []
    for i, p in enumerate(payloads):
        fields = p if isinstance(p, list) else [b"d", p]
        out.append([f"1795835100000-{i}".encode(), fields])
    return out


def one_by_one(
    payloads: list[Any],
) -> tuple[dict[str, list[tuple[float, float]]], list[Candle], Counter[str]]:
    """The reference: each entry through the bus's decoder alone."""
    ticks: dict[str, list[tuple[float, float]]] = {}
    candles: list[Candle] = []
    errors: Counter[str] = Counter()
    for p in payloads:
        if isinstance(p, list):
            d = dict(zip(p[::2], p[1::2], strict=False)).get(b"d")
            if not p:
                errors["entry_gone"] += 1
                continue
            if d is None:
                errors["no_d_field"] += 1
                continue
            p = d
        try:
            rec = decode(p)
        except RecordError as exc:
            errors[exc.kind] += 1
            continue
        if isinstance(rec, Tick):
            ticks.setdefault(rec.asset, []).append((rec.ts, rec.price))
        elif isinstance(rec, Candle):
            if rec.tf not in TF_SECONDS:
                errors["timeframe_not_in_layout"] += 1
            elif not rec.closed:
                errors["not_closed"] += 1
            else:
                candles.append(rec)
        elif not isinstance(rec, HistoryBatch):
            errors["unexpected_record"] += 1
    return ticks, candles, errors


def via_chunk(
    decoder: ChunkDecoder, payloads: list[Any]
) -> tuple[dict[str, list[tuple[float, float]]], list[Candle], Counter[str]]:
    chunk = decoder.decode("s", entries(payloads))
    ticks: dict[str, list[tuple[float, float]]] = {}
    for asset, start, end in chunk.spans:
        got = list(zip(chunk.ts[start:end].tolist(), chunk.price[start:end].tolist(), strict=True))
        ticks.setdefault(chunk.assets[asset], []).extend(got)
    assert chunk.entries == len(payloads)
    assert chunk.last_id == f"1795835100000-{len(payloads) - 1}"
    return ticks, chunk.candles, chunk.errors


def tick_map(asset: Any, ts: Any, price: Any, **extra: Any) -> bytes:
    return pack_map({"v": 1, "kind": "tick", "asset": asset, **extra, "ts": ts, "price": price})


def mixed(rng: random.Random, n: int) -> list[Any]:
    assets = ["EURUSD_otc", "GBPUSD_otc", "#AAPL_otc", "a/../b", "ÉTÉ", "x" * 40]
    out: list[Any] = []
    for i in range(n):
        a = rng.choice(assets)
        ts, price = T0 + i * 0.25, 1.0 + rng.random()
        r = rng.random()
        if r < 0.6:
            out.append(pack(Tick(a, ts, price)))
        elif r < 0.65:
            out.append(tick_map(a, int(ts), price))  # whole-second time packed as an int
        elif r < 0.68:
            out.append(tick_map(a, ts, rng.choice([math.nan, math.inf, -math.inf])))
        elif r < 0.71:
            out.append(pack_map({"v": 2, "kind": "tick", "asset": a, "ts": ts, "price": price}))
        elif r < 0.74:
            out.append(tick_map("", ts, price))
        elif r < 0.77:
            # Ends exactly like a tick, but is an event: it must not be written as one.
            out.append(
                pack_map({"v": 1, "type": "balance", "kind": "tick", "asset": a, "ts": ts, "price": price})
            )
        elif r < 0.80:
            out.append(
                pack(
                    Candle(
                        a,
                        rng.choice([60, 120, 300]),
                        int(ts) // 60 * 60,
                        1,
                        2,
                        0.5,
                        1.5,
                        7,
                        rng.random() < 0.7,
                    )
                )
            )
        elif r < 0.82:
            out.append(pack(HistoryBatch(a, 60, candles=((int(T0), 1.0, 2.0, 0.5, 1.5),))))
        elif r < 0.85:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))
        elif r < 0.87:
            out.append([])  # an entry trimmed after it was listed
        elif r < 0.89:
            out.append([b"x", b"1", b"d", pack(Tick(a, ts, price))])  # extra fields
        elif r < 0.91:
            out.append([b"x", b"1"])
        elif r < 0.94:
            good = bytearray(pack(Tick(a, ts, price)))
            good[rng.randrange(len(good) - 27)] = rng.randrange(256)  # a damaged beginning
            out.append(bytes(good))
        else:
            out.append(msgpack.packb([1, 2, 3]))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_any_mix_gives_what_the_bus_decoder_gives_entry_by_entry(seed: int) -> None:
    payloads = mixed(random.Random(seed), 3000)
    assert via_chunk(ChunkDecoder(), payloads) == one_by_one(payloads)


def test_a_decoder_reused_across_chunks_stays_exact() -> None:
    rng = random.Random(99)
    decoder = ChunkDecoder()
    for _ in range(5):
        payloads = mixed(rng, 500)
        assert via_chunk(decoder, payloads) == one_by_one(payloads)


def test_ticks_keep_stream_order_within_each_asset_and_exact_floats() -> None:
    rng = random.Random(3)
    ticks = [Tick(rng.choice("ABC"), T0 + i * 0.001, rng.uniform(0.5, 200)) for i in range(10_000)]
    got, candles, errors = via_chunk(ChunkDecoder(), [pack(t) for t in ticks])
    want: dict[str, list[tuple[float, float]]] = {}
    for t in ticks:
        want.setdefault(t.asset, []).append((t.ts, t.price))
    assert got == want and not candles and not errors


def test_only_candles_when_ticks_are_not_collected() -> None:
    payloads = mixed(random.Random(5), 1000)
    ticks, candles, errors = via_chunk(ChunkDecoder(ticks=False), payloads)
    _, want_candles, want_errors = one_by_one(payloads)
    assert ticks == {} and candles == want_candles and errors == want_errors


def test_many_made_up_assets_do_not_grow_memory_for_ever() -> None:
    decoder = ChunkDecoder()
    payloads = [pack(Tick(f"A{i}", T0 + i, 1.0)) for i in range(MAX_HEADS + 500)]
    ticks, _, _ = via_chunk(decoder, payloads)
    assert len(ticks) == MAX_HEADS + 500
    assert len(decoder._heads) <= MAX_HEADS
