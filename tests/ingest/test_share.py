"""`qf record --share`: market data kept, account, balance and deals reduced to their shape."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from quantumflux.bus.records import Event, HistoryBatch, Tick
from quantumflux.ingest.chrome import Chromium
from quantumflux.ingest.decoder import Decoder
from quantumflux.ingest.frames import Frame
from quantumflux.ingest.recording import RecordingWriter, read_recording
from quantumflux.ingest.share import ShareFilter, shape, share_url
from tests.ingest.stack import ROOT, Bus, SimProcess, by_asset, close_pages, wait_until

TRADE = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
T0 = 1781423500.0

# Credentials under names no list of secret-shaped keys has seen, and private numbers.
SESSION_TOKEN = "sTokQ9w8e7r6t5y4"
REFERRER = "PartnerRefXy7"
COOKIE = "VisitorCookie5566"
BINARY_TOKEN = "binAccessKeyDEAD"
CLIENT_NO = 77123459
EMAIL = "trader.jane@example.org"
URL_SID = "UrlSidZz9911"
BALANCE = 43210.87
DEAL_ID = "9f3c1e2a-7b44-4d1e-9a0b-5c6d7e8f9a01"
AMOUNT = 777.31
PROFIT = 682.39
OPEN_PRICE = 1.08765
REQUEST_ID = 918273645

SECRETS = [
    SESSION_TOKEN,
    REFERRER,
    COOKIE,
    BINARY_TOKEN,
    str(CLIENT_NO),
    EMAIL,
    URL_SID,
    str(BALANCE),
    DEAL_ID,
    str(AMOUNT),
    str(PROFIT),
    str(OPEN_PRICE),
    str(REQUEST_ID),
]


def b64(obj: object) -> str:
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def text(event: str, body: object, prefix: str = "42") -> str:
    return prefix + json.dumps([event, body], separators=(",", ":"))


def header(event: str) -> str:
    return f'451-["{event}",{{"_placeholder":true,"num":0}}]'


def asset_row(asset: str, payout: int, active: bool) -> list[Any]:
    return [66, asset, asset, "currency", 5, payout, 60, 30, 3, 1, 0, 1, [], 1750896000, active,
            [{"time": 60}], 0, 5, -1]  # fmt: skip


def deal() -> dict[str, Any]:
    return {
        "id": DEAL_ID,
        "openTime": "2026-06-14 09:45:00",
        "openTimestamp": 1781430300,
        "closeTimestamp": 1781430360,
        "asset": "EURUSD_otc",
        "amount": AMOUNT,
        "openPrice": OPEN_PRICE,
        "command": 0,
        "percentProfit": 92,
        "profit": PROFIT,
        "isDemo": 0,
        "owner": CLIENT_NO,
    }


def private_frames() -> list[Frame]:
    """The account's frames: auth, profile, balance, deals, orders, with credentials under new names."""
    url = f"{TRADE}&sid={URL_SID}"
    auth = {"sessionToken": SESSION_TOKEN, "isDemo": 0, "currentUrl": f"cabinet/?ref={REFERRER}&x=1"}
    profile = {
        "headers": {"Cookie": f"lang=en; po_visitor={COOKIE}"},
        "clientNo": CLIENT_NO,
        "contact": EMAIL,
    }
    f = [
        (1, "sent", "P", url, text("auth", auth)),
        (1, "recv", "P", url, text("profileLoaded", profile)),
        (1, "recv", "P", url, header("userInit")),
        (2, "recv", "P", url, b64({"grant": BINARY_TOKEN, "clientNo": CLIENT_NO})),
        (1, "recv", "P", url, header("successupdateBalance")),
        (2, "recv", "P", url, b64({"isDemo": 0, "balance": BALANCE})),
        (1, "sent", "P", url, text("openOrder", {"asset": "EURUSD_otc", "amount": AMOUNT, "action": "call",
                                                 "isDemo": 0, "requestId": REQUEST_ID, "time": 60})),
        (1, "recv", "P", url, header("successopenOrder")),
        (2, "recv", "P", url, b64(deal())),
        (1, "recv", "P", url, header("successcloseOrder")),
        (2, "recv", "P", url, b64({"profit": PROFIT, "deals": [deal()]})),
        (1, "recv", "P", url, text("updateClosedDeals", [deal(), deal()])),
        # a frame cut short, which no JSON reader can read
        (1, "sent", "P", url, text("auth", auth)[:40]),
    ]  # fmt: skip
    return [Frame(T0 + i * 0.01, d, s, u, op, p) for i, (op, d, s, u, p) in enumerate(f)]


def market_frames() -> list[Frame]:
    """Assets, a chart pick, a history answer and a paged history that names only its request."""
    history = {"asset": "GBPUSD_otc", "period": 60, "history": [[1781430000.5, 1.2701]],
               "candles": [[1781429940, 1.27, 1.2702, 1.2705, 1.2699]]}  # fmt: skip
    paged = {"asset": "GBPUSD_otc", "index": 178142994, "data": [
        {"time": 1781429880, "open": 1.27, "close": 1.2701, "high": 1.2703, "low": 1.2698}]}  # fmt: skip
    f = [
        (1, "recv", header("updateAssets")),
        (2, "recv", b64([asset_row("GBPUSD_otc", 92, True), asset_row("EURUSD_otc", 92, False)])),
        (1, "sent", text("changeSymbol", {"asset": "GBPUSD_otc", "period": 60})),
        (1, "sent", text("saveCharts", {"settings": [{"symbol": "GBPUSD_otc", "chartPeriod": 4}]})),
        (1, "recv", header("updateHistoryNewFast")),
        (2, "recv", b64(history)),
        (1, "sent", text("loadHistoryPeriod", {"asset": "GBPUSD_otc", "index": 178142994, "period": 60,
                                               "time": 1781429940, "offset": 60})),
        (1, "recv", header("loadHistoryPeriod")),
        (2, "recv", b64(paged)),
    ]  # fmt: skip
    return [Frame(T0 + 1 + i * 0.01, d, "P", TRADE, op, p) for i, (op, d, p) in enumerate(f)]


def all_frames(po_data: Path) -> list[Frame]:
    real = [Frame.from_json(json.loads(x)) for x in (po_data / "sample-recording.jsonl").open()]
    return private_frames() + market_frames() + real


def all_text(path: Path) -> str:
    """The file's bytes, plus every binary payload decoded, so nothing hides in base64."""
    raw = path.read_bytes().decode("utf-8")
    parts = [raw]
    for line in raw.splitlines():
        obj = json.loads(line)
        if obj["opcode"] == 2:
            parts.append(base64.b64decode(obj["payload"]).decode("utf-8", "replace"))
    return "\n".join(parts)


def write(path: Path, frames: list[Frame], *, share: bool) -> Path:
    with RecordingWriter(path, share=share) as writer:
        for f in frames:
            writer.write(f)
    return path


MARKET_EVENTS = ("assets", "platform_state", "history_loaded")


def market_records(frames: list[Frame]) -> list[Tick | HistoryBatch | Event]:
    dec = Decoder()
    out: list[Tick | HistoryBatch | Event] = []
    for f in frames:
        for r in dec.feed(f):
            if isinstance(r, Tick | HistoryBatch) or (isinstance(r, Event) and r.type in MARKET_EVENTS):
                out.append(r)
    return out


def test_no_private_value_reaches_a_shared_file(tmp_path: Path, po_data: Path) -> None:
    frames = all_frames(po_data)
    default = all_text(write(tmp_path / "default.jsonl", frames, share=False))
    shared = all_text(write(tmp_path / "shared.jsonl", frames, share=True))
    # The values are in what was captured, and not in its market data by chance.
    market = all_text(write(tmp_path / "market.jsonl", frames[len(private_frames()) :], share=False))
    for secret in SECRETS:
        assert secret not in market
        assert secret not in shared, f"{secret!r} reached the shared recording"
    # The default recording keeps the balance and the deals, as before.
    for kept in (str(BALANCE), DEAL_ID, str(AMOUNT), str(PROFIT)):
        assert kept in default
    # Every frame is still there, with its event name, so a changed event can be seen.
    lines = [json.loads(x) for x in (tmp_path / "shared.jsonl").read_text().splitlines()]
    assert len(lines) == len(frames)
    payloads = "\n".join(x["payload"] for x in lines)
    for event in ("auth", "profileLoaded", "userInit", "successupdateBalance", "successcloseOrder"):
        assert f'["{event}",' in payloads
    assert {x["url"] for x in lines} == {"wss://api-eu.po.market/socket.io/"}


def test_a_shared_file_decodes_to_the_same_market_data(tmp_path: Path, po_data: Path) -> None:
    frames = all_frames(po_data)
    back = list(read_recording(write(tmp_path / "shared.jsonl", frames, share=True)))
    expected = market_records(frames)
    kinds = {type(r).__name__ for r in expected} | {r.type for r in expected if isinstance(r, Event)}
    assert kinds == {"Tick", "HistoryBatch", "Event", *MARKET_EVENTS}
    assert len([r for r in expected if isinstance(r, HistoryBatch)]) == 2
    assert market_records(back) == expected
    # the market frames are kept byte for byte; the sockets' open packets only by their shape
    public = len(private_frames())
    for got, sent in zip(back[public:], frames[public:], strict=True):
        assert (got.payload == sent.payload) != sent.payload.startswith(("0{", "40{")), sent.payload
    # and nothing of the account decodes from it: a list of deals comes back without a deal
    dec = Decoder()
    account = [
        r
        for f in back
        for r in dec.feed(f)
        if isinstance(r, Event) and r.type in ("balance", "deal", "deals")
    ]
    assert [(r.type, r.data["deals"]) for r in account] == [("deals", [])]


def test_qf_replay_of_a_shared_file_publishes_the_same_ticks_and_history(
    tmp_path: Path, po_data: Path, test_env: dict[str, str], redis_url: str, prefix: str
) -> None:
    frames = all_frames(po_data)
    rec = write(tmp_path / "shared.jsonl", frames, share=True)
    expected = market_records(frames)
    done = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "replay", str(rec)], cwd=ROOT, env=test_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ticks: dict[str, list[tuple[str, float, float]]] = {}
    for r in expected:
        if isinstance(r, Tick):
            ticks.setdefault(r.asset, []).append((r.asset, r.ts, r.price))
    bus = Bus(redis_url, prefix)
    try:
        assert bus.ticks() == ticks
        history = [r for p in range(4) for r in bus.records(p) if isinstance(r, HistoryBatch)]
        assert sorted(history, key=repr) == sorted(
            (r for r in expected if isinstance(r, HistoryBatch)), key=repr
        )
        assert not bus.events("balance") and not bus.events("deal")
        assert [e.data["deals"] for e in bus.events("deals")] == [[]]
    finally:
        bus.close()


def test_other_frames_become_their_shape() -> None:
    share = ShareFilter()
    balance = Frame(
        T0, "recv", "s", TRADE, 1, text("successupdateBalance", {"balance": BALANCE, "isDemo": 0})
    )
    out, kept = share.share(balance)
    assert not kept
    assert out.payload == '42["successupdateBalance",{"balance":"<number>","isDemo":"<number>"}]'
    # lists show their first items' shape; the Engine.IO open packet keeps its framing
    assert shape([[1, "a"], [2, "b"], [3, "c"], [4, "d"]] * 7)[:2] == [["<number>", "<text>"]] * 2
    out, kept = share.share(Frame(T0, "recv", "s", TRADE, 1, '0{"sid":"abc123","pingInterval":25000}'))
    assert out.payload == '0{"sid":"<text>","pingInterval":"<number>"}' and not kept
    # a binary body that is not JSON says only how long it was
    out, _ = share.share(Frame(T0, "recv", "s", TRADE, 2, base64.b64encode(b"\xff\x00secret").decode()))
    assert base64.b64decode(out.payload) == b"<binary of 8 bytes>"


def test_market_events_off_the_brokers_sockets_are_not_kept() -> None:
    share = ShareFilter()
    chat = "wss://chat.example.com/socket.io/?EIO=4&transport=websocket"
    own = "ws://127.0.0.1:3001/socket.io/?client=quantumflux&EIO=4"
    pick = text("changeSymbol", {"asset": "GBPUSD_otc", "period": 60})
    for url in (chat, own):
        out, kept = share.share(Frame(T0, "sent", url, url, 1, pick))
        assert not kept and "GBPUSD_otc" not in out.payload
    # a socket whose address is unknown is judged by what it carries, as the decoder does
    out, kept = share.share(Frame(T0, "sent", "old", None, 1, pick))
    assert kept and out.payload == pick


def test_a_header_pairs_with_its_own_body_only() -> None:
    share = ShareFilter()
    ticks = b64([["GBPUSD_otc", 1781423520.1, 1.2701]])
    assert share.share(Frame(T0, "recv", "s", TRADE, 1, header("updateStream")))[1]
    assert share.share(Frame(T0, "recv", "s", TRADE, 2, ticks))[1]
    # the balance header's body is not market data, even when the next frame looks like ticks
    assert not share.share(Frame(T0, "recv", "s", TRADE, 1, header("successupdateBalance")))[1]
    assert not share.share(Frame(T0, "recv", "s", TRADE, 2, ticks))[1]
    # a body with no header before it is judged by its shape
    assert share.share(Frame(T0, "recv", "s", TRADE, 2, ticks))[1]
    assert not share.share(Frame(T0, "recv", "s", TRADE, 2, b64({"balance": BALANCE})))[1]


def test_share_url_drops_query_user_and_fragment() -> None:
    assert share_url(f"wss://me:pw@api-eu.po.market/socket.io/?EIO=4&sid={URL_SID}#x") == (
        "wss://api-eu.po.market/socket.io/"
    )
    assert share_url(None) is None


def test_qf_record_share_says_what_it_keeps(tmp_path: Path, test_env: dict[str, str]) -> None:
    from tests.conftest import free_port

    rec = tmp_path / "shared.jsonl"
    log = tmp_path / "record.log"
    env = dict(test_env, QF_CHROME_URL=f"http://127.0.0.1:{free_port()}")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.qf", "record", str(rec), "--share"], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until(lambda: "Recording" in log.read_text(), what="the banner")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    said = log.read_text()
    assert proc.returncode == 0, said
    assert "market data only" in said
    assert f"Wrote 0 frames to {rec}" in said


def test_a_shared_capture_from_chrome_replays_to_what_the_broker_sent(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> None:
    sim = SimProcess(tmp_path, seed=5, assets=2, rate=5.0)
    rec = tmp_path / "shared.jsonl"
    env = dict(test_env, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.qf", "record", str(rec), "--share"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: len(sim.ticks()) >= 40, what="ticks sent")
        before = by_asset(sim.ticks())
        wait_until(lambda: recorded_ticks(rec) >= sum(len(v) for v in before.values()), what="ticks recorded")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        close_pages(chromium.http_url, sim.page)
        sim.stop()
    assert proc.returncode == 0, out.decode()
    frames = list(read_recording(rec))
    payloads = "\n".join(f.payload for f in frames)
    # the page's login and the account's balance were captured, as shapes only
    assert '42["auth",{"session":"<text>"' in payloads and "sim-demo-session" not in rec.read_text()
    assert '["successupdateBalance",' in payloads
    dec = Decoder()
    records = [r for f in frames for r in dec.feed(f)]
    assert not [r for r in records if isinstance(r, Event) and r.type == "balance"]
    assert [r for r in records if isinstance(r, Event) and r.type == "assets"]
    assert all(f.url is None or "?" not in f.url for f in frames)

    done = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "replay", str(rec)], cwd=ROOT, env=test_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    truth = by_asset(sim.ticks())
    bus = Bus(redis_url, prefix)
    try:
        got = bus.ticks()
    finally:
        bus.close()
    for asset, rows in truth.items():
        assert got[asset] == rows[: len(got[asset])]
        assert len(got[asset]) >= len(before[asset])


def recorded_ticks(rec: Path) -> int:
    """How many ticks the recording holds so far."""
    if not rec.exists():
        return 0
    dec = Decoder()
    return sum(isinstance(r, Tick) for f in read_recording(rec) for r in dec.feed(f))
