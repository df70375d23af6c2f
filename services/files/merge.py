"""One series per asset and timeframe: live and collected candles merged, coarser ones derived.

Pure: frames in, frames and reports out (DESIGN §4). Frames have the candle columns of
:mod:`.columns` (``time`` int64 epoch seconds of the open, prices, ``ticks``, ``volume``,
``complete``).

- :func:`merge` joins the candles built here from live ticks (``realtime_stream``) with the
  broker's own (``data_collect``). Where both hold a time, the live candle stays when it is
  complete: it is what the platform saw and traded on. An incomplete live candle saw only part of
  its period, so the broker's whole candle takes its place. Two complete candles of one time that
  disagree are both data the trader relies on, so each disagreement is counted and listed.
- :func:`derive` builds a coarser timeframe from a finer one exactly, on the same bucket edges as
  the candle service (:func:`quantumflux.bus.timeframes.bucket_start`). A coarse candle is complete
  only when every finer candle of its period is there and complete: a hole inside it would make
  its high, low or close a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantumflux.bus.timeframes import BROKER_DAY_OFFSET, alignment_offset, bucket_start, label
from quantumflux.files.columns import CANDLE_COLUMNS, CANDLE_FIELDS, PRICE_FIELDS

Frame = Any  # a pandas DataFrame (pandas has no type information)
# Two prices closer than this, relative to the larger one, are the same price written twice
# (a float printed and read back), not a disagreement.
TOLERANCE = 1e-9
MAX_LISTED = 50

Prices = tuple[float, float, float, float]


@dataclass(frozen=True)
class Difference:
    """One time where the live candle and the broker's disagree, with both candles' prices."""

    asset: str
    tf: int
    time: int
    live: Prices
    collected: Prices

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (prices as open, high, low, close)."""
        return {
            "asset": self.asset,
            "timeframe": label(self.tf) if self.tf else None,
            "time": self.time,
            "live": list(self.live),
            "collected": list(self.collected),
        }


@dataclass(frozen=True)
class MergeReport:
    """What merging found: candles from each side, times held by both, and how they compare."""

    live: int = 0
    collected: int = 0
    candles: int = 0
    both: int = 0
    """Times held by both sides."""
    replaced: int = 0
    """Incomplete live candles replaced by the broker's."""
    differences: int = 0
    """Times where two complete candles disagree on a price (the live one is kept)."""
    listed: tuple[Difference, ...] = ()
    """The first :data:`MAX_LISTED` differences."""

    @property
    def source(self) -> str:
        """Which sides the series has: ``live+backfill``, ``realtime_stream`` or ``data_collect``."""
        if self.live and self.collected:
            return "live+backfill"
        return "data_collect" if self.collected else "realtime_stream"

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "source": self.source,
            "live_candles": self.live,
            "collected_candles": self.collected,
            "both": self.both,
            "replaced": self.replaced,
            "differences": self.differences,
            "difference_list": [d.as_dict() for d in self.listed],
        }


def empty_frame() -> Frame:
    """A frame with the candle columns and no rows."""
    return pd.DataFrame(
        {
            c.name: np.empty(0, np.float64 if c.kind in ("price", "amount") else np.int64)
            for c in CANDLE_COLUMNS
        }
    )


def _series(frame: Frame | None) -> Frame:
    """``frame`` sorted by time with one row per time (the first), or an empty frame for None."""
    if frame is None or not len(frame):
        return empty_frame()
    t = frame["time"].to_numpy()
    if len(t) > 1 and (np.diff(t) <= 0).any():
        frame = frame.sort_values("time", kind="stable")
        frame = frame[~frame["time"].duplicated(keep="first").to_numpy()]
    return frame.reset_index(drop=True)


def _prices(frame: Frame, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    return np.asarray(frame[list(PRICE_FIELDS)].to_numpy(dtype=np.float64)[rows])


def merge(
    live: Frame | None,
    collected: Frame | None,
    asset: str = "",
    tf: int = 0,
    tolerance: float = TOLERANCE,
    max_listed: int = MAX_LISTED,
) -> tuple[Frame, MergeReport]:
    """One series from live and collected candles, without repeated times, and what was found.

    ``asset`` and ``tf`` only name the differences in the report.
    """
    a, b = _series(live), _series(collected)
    ta, tb = a["time"].to_numpy(), b["time"].to_numpy()
    _, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
    live_whole = a["complete"].to_numpy()[ia] != 0
    both_whole = live_whole & (b["complete"].to_numpy()[ib] != 0)
    pa, pb = _prices(a, ia), _prices(b, ib)
    scale = np.maximum(np.abs(pa), np.abs(pb))
    differ = both_whole & (np.abs(pa - pb) > tolerance * scale).any(axis=1)
    listed = tuple(
        Difference(asset, tf, int(ta[ia[k]]), _tuple(pa[k]), _tuple(pb[k]))
        for k in np.flatnonzero(differ)[:max_listed]
    )
    keep_a = np.ones(len(a), bool)
    keep_a[ia[~live_whole]] = False  # an incomplete live candle gives way to the broker's
    keep_b = np.ones(len(b), bool)
    keep_b[ib[live_whole]] = False
    frames = [f for f in (a[keep_a], b[keep_b]) if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    out = out.sort_values("time", kind="stable").reset_index(drop=True)[list(CANDLE_FIELDS)]
    report = MergeReport(
        live=len(a),
        collected=len(b),
        candles=len(out),
        both=len(ia),
        replaced=int((~live_whole).sum()),
        differences=int(differ.sum()),
        listed=listed,
    )
    return out, report


def _tuple(row: npt.NDArray[np.float64]) -> Prices:
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def can_derive(from_tf: int, to_tf: int, day_offset: int = BROKER_DAY_OFFSET) -> bool:
    """Whether every ``to_tf`` candle is exactly a run of whole ``from_tf`` candles."""
    if from_tf <= 0 or to_tf <= from_tf or to_tf % from_tf:
        return False
    shift = alignment_offset(to_tf, day_offset) - alignment_offset(from_tf, day_offset)
    return shift % from_tf == 0


def derive(frame: Frame, from_tf: int, to_tf: int, day_offset: int = BROKER_DAY_OFFSET) -> Frame:
    """The ``to_tf`` candles made of the ``from_tf`` candles of ``frame``.

    open = first, high = max, low = min, close = last, ticks = sum, volume = sum when every finer
    volume is known (else unknown); complete only when all ``to_tf // from_tf`` finer candles are
    there, on their own edges, and complete. Raises ``ValueError`` when ``to_tf`` is not made of
    whole ``from_tf`` candles (see :func:`can_derive`).
    """
    if not can_derive(from_tf, to_tf, day_offset):
        raise ValueError(f"a {label(to_tf)} candle is not made of whole {label(from_tf)} candles")
    fine = _series(frame)
    if not len(fine):
        return empty_frame()
    t = fine["time"].to_numpy().astype(np.int64)
    keys = bucket_start(t, to_tf, day_offset)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
    ends = np.concatenate((starts[1:], [len(t)])) - 1
    volume = fine["volume"].to_numpy(dtype=np.float64)
    known = ~np.isnan(volume)
    on_edge = bucket_start(t, from_tf, day_offset) == t
    whole = (fine["complete"].to_numpy() != 0) & on_edge
    out = {
        "time": keys[starts],
        "open": fine["open"].to_numpy(dtype=np.float64)[starts],
        "high": np.maximum.reduceat(fine["high"].to_numpy(dtype=np.float64), starts),
        "low": np.minimum.reduceat(fine["low"].to_numpy(dtype=np.float64), starts),
        "close": fine["close"].to_numpy(dtype=np.float64)[ends],
        "ticks": np.add.reduceat(fine["ticks"].to_numpy(dtype=np.int64), starts),
        "volume": np.where(
            np.logical_and.reduceat(known, starts),
            np.add.reduceat(np.where(known, volume, 0.0), starts),
            np.nan,
        ),
        "complete": (
            (np.add.reduceat(np.ones(len(t), np.int64), starts) == to_tf // from_tf)
            & np.logical_and.reduceat(whole, starts)
        ).astype(np.int64),
    }
    return pd.DataFrame(out, columns=list(CANDLE_FIELDS))


def derivations(
    native: Iterable[int], offered: Iterable[int], day_offset: int = BROKER_DAY_OFFSET
) -> dict[int, int]:
    """For every ``offered`` timeframe without data of its own, the timeframe to derive it from.

    The nearest finer timeframe with data is chosen: the fewest candles to read, and usually the
    longest history (collected history of a coarse timeframe reaches further back).
    """
    held = sorted(set(native), reverse=True)
    out: dict[int, int] = {}
    for tf in sorted(set(offered) - set(held)):
        source = next((f for f in held if can_derive(f, tf, day_offset)), None)
        if source is not None:
            out[tf] = source
    return out
