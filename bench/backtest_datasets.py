"""Dataset list and candles of the backtest service with many chunk files.

Writes a data folder of persistence chunks (100 candles each, ``--assets`` assets, ``--files``
files in all), then times, through the service's HTTP app (in process, no network):

- ``GET /datasets`` the first time (every file's times read), again (nothing changed: only a
  stat of each file), and after the chunk being written grew by one candle;
- the baseline, in the same run: loading every dataset in full, as counting by loading would;
- ``GET /datasets/{id}/candles`` the first time (the dataset loaded) and a second page (kept).

    .venv/bin/python bench/backtest_datasets.py                 # 2 000 files (a few seconds)
    .venv/bin/python bench/backtest_datasets.py --files 20000   # longer
"""

from __future__ import annotations

import argparse
import calendar
import platform
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="Using `httpx`")  # the test client's own notice

from fastapi.testclient import TestClient  # noqa: E402

from quantumflux.backtest.app import create_app  # noqa: E402
from quantumflux.backtest.config import BacktestSettings  # noqa: E402
from quantumflux.files import datasets  # noqa: E402
from quantumflux.files.layout import candle_file, iso_utc  # noqa: E402

T0 = calendar.timegm((2026, 6, 14, 10, 0, 0))
ROWS = 100


def write_folder(data: Path, files: int, assets: int) -> Path:
    """``files`` chunks of ROWS one-minute candles, spread over ``assets`` assets; the last chunk written."""
    per_asset = max(1, files // assets)
    last = data
    for a in range(assets):
        asset = f"ASSET{a:02d}_otc"
        for chunk in range(per_asset):
            path = candle_file(data, asset, 60, "20260614T100000Z", chunk)
            path.parent.mkdir(parents=True, exist_ok=True)
            start = T0 + 60 * ROWS * chunk
            rows = ["timestamp,open,high,low,close,ticks"]
            rows += [f"{iso_utc(start + 60 * i, False)},1.1,1.10002,1.09998,1.10001,3" for i in range(ROWS)]
            path.write_text("\n".join(rows) + "\n")
            last = path
    return last


def timed(fn: object) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()  # type: ignore[operator]
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=2000, help="chunk files in all (100 candles each)")
    ap.add_argument("--assets", type=int, default=10, help="assets the files are spread over")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        last = write_folder(data, args.files, args.assets)
        client = TestClient(create_app(BacktestSettings(data_dir=data)))

        def listing() -> object:
            r = client.get("/datasets")
            assert r.status_code == 200, r.text
            return r.json()["datasets"]

        cold, rows = timed(listing)
        warm = min(timed(listing)[0] for _ in range(5))
        with last.open("a") as fh:
            fh.write(f"{iso_utc(T0 + 60 * ROWS * 10_000, False)},1.1,1.1,1.1,1.1,1\n")
        grown, after = timed(listing)
        # The stored datasets gained the row (the derived timeframes each gained one too).
        stored = sum(d["rows"] for d in after if d["derived_from"] is None)  # type: ignore[index]
        assert stored == sum(d["rows"] for d in rows if d["derived_from"] is None) + 1  # type: ignore[index]
        catalogue = datasets.discover(data)
        full, _ = timed(lambda: [datasets.load(ds) for ds in catalogue.values()])
        ds_id = next(iter(catalogue))
        first, page = timed(lambda: client.get(f"/datasets/{ds_id}/candles", params={"limit": 5000}).json())
        before = page["candles"][0]["time"]  # type: ignore[index]
        second, _ = timed(
            lambda: client.get(f"/datasets/{ds_id}/candles", params={"limit": 5000, "before": before}).json()
        )
    candles = sum(d["rows"] for d in rows if d["derived_from"] is None)  # type: ignore[index]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"{args.files} files, {args.assets} datasets, {candles} candles")
    print(f"GET /datasets first time (every file's times read): {cold * 1000:.0f} ms")
    print(f"GET /datasets again (nothing changed):               {warm * 1000:.1f} ms")
    print(f"GET /datasets after one chunk grew:                   {grown * 1000:.1f} ms")
    print(f"baseline, loading every dataset in full:              {full * 1000:.0f} ms")
    print(f"ratio baseline / first list: {full / cold:.1f}x; baseline / repeated list: {full / warm:.0f}x")
    print(
        f"GET /datasets/{{id}}/candles 5000, first time: {first * 1000:.0f} ms; next page: {second * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
