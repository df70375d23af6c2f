// The simulated broker's page: talks Engine.IO v4 / Socket.IO v4 like the broker's web app.
"use strict";

// saveCharts carries the chart period as the app's internal id (protocol notes §4).
const CHART_PERIOD_ID = { 1: 15, 5: 0, 10: 1, 15: 2, 30: 3, 60: 4, 120: 13, 180: 14, 300: 6,
  600: 7, 900: 8, 1800: 9, 3600: 10, 14400: 11, 86400: 12 };

const assetSel = document.getElementById("asset");
const tfSel = document.getElementById("timeframe");
const priceEl = document.getElementById("price");
const statusEl = document.getElementById("status");
const ticksEl = document.getElementById("ticks");
const historyEl = document.getElementById("history");
const balanceEl = document.getElementById("balance");
const amountEl = document.getElementById("amount");
// The simulator rewrites this line when it plays a real account (QF_SIM_REAL_ACCOUNT).
const ACCOUNT_IS_DEMO = 1;
const dealEl = document.getElementById("deal");

let ws = null;
let pendingEvent = null;
let keepAlive = null;
let tickCount = 0;
// The broker's page numbers its orders; any increasing number does.
let requestId = Math.floor(Date.now() / 1000) * 100;
const lastPrice = {};

function emit(name, body) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send("42" + JSON.stringify(body === undefined ? [name] : [name, body]));
  }
}

function selectChart() {
  const asset = assetSel.value;
  const period = Number(tfSel.value);
  if (!asset) return;
  emit("changeSymbol", { asset: asset, period: period });
  emit("saveCharts", { settings: [{ chartId: "graph", chartType: 2, symbol: asset,
    chartPeriod: CHART_PERIOD_ID[period] }] });
  emit("subfor", asset);
  showPrice();
}

// A trade like the broker's page places it: the expiry is the selected timeframe, else 60 s.
function placeOrder(action) {
  const period = Number(tfSel.value);
  requestId += 1;
  emit("openOrder", { asset: assetSel.value, amount: Number(amountEl.value), action: action,
    isDemo: ACCOUNT_IS_DEMO, requestId: requestId, optionType: 100, time: period >= 5 ? period : 60 });
}

function describeDeal(deal) {
  return (deal.command === 0 ? "call" : "put") + " " + deal.asset + " " + deal.amount + " at " + deal.openPrice;
}

function showPrice() {
  const p = lastPrice[assetSel.value];
  priceEl.textContent = p === undefined ? "–" : String(p);
}

function onEvent(name, body) {
  if (name === "updateStream") {
    for (const row of body) {
      lastPrice[row[0]] = row[2];
      tickCount += 1;
    }
    ticksEl.textContent = String(tickCount);
    showPrice();
  } else if (name === "updateAssets") {
    const chosen = assetSel.value;
    assetSel.innerHTML = "";
    for (const row of body) {
      const opt = document.createElement("option");
      opt.value = row[1];
      opt.textContent = row[2] + " · " + row[5] + "%";
      assetSel.appendChild(opt);
    }
    if (chosen) assetSel.value = chosen;
    selectChart();
  } else if (name === "updateHistoryNewFast") {
    historyEl.textContent = body.asset + " " + body.history.length + " ticks, " + body.candles.length + " candles";
  } else if (name === "loadHistoryPeriod" || name === "loadHistoryPeriodFast") {
    // The answer to a page of older history (the broker's page asks when the chart scrolls back).
    historyEl.textContent = body.asset + " " + body.data.length + " older items";
  } else if (name === "successupdateBalance") {
    balanceEl.textContent = String(body.balance);
  } else if (name === "successopenOrder") {
    dealEl.textContent = "open: " + describeDeal(body);
  } else if (name === "successcloseOrder") {
    for (const deal of body.deals) {
      const result = deal.profit > 0 ? "won +" + deal.profit : deal.profit < 0 ? "lost " + deal.profit : "tie";
      dealEl.textContent = "closed: " + describeDeal(deal) + " → " + deal.closePrice + ", " + result;
    }
  } else if (name === "failopenOrder") {
    dealEl.textContent = "refused: " + body.error;
  } else if (name === "successauth") {
    statusEl.textContent = "connected";
  }
}

function onText(msg) {
  if (msg === "2") { ws.send("3"); return; }
  if (msg.startsWith("0{")) { ws.send("40"); return; }
  if (msg.startsWith("40")) {
    emit("auth", { session: "sim-demo-session", isDemo: ACCOUNT_IS_DEMO, uid: 1, platform: 2,
      isFastHistory: true, isOptimized: true });
    return;
  }
  if (msg.startsWith("451-")) { pendingEvent = JSON.parse(msg.slice(4))[0]; return; }
  if (msg.startsWith("42")) {
    const data = JSON.parse(msg.slice(2));
    onEvent(data[0], data[1]);
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(scheme + "://" + location.host + "/socket.io/?EIO=4&transport=websocket");
  ws.binaryType = "arraybuffer";
  ws.onmessage = (ev) => {
    if (typeof ev.data === "string") {
      onText(ev.data);
    } else if (pendingEvent !== null) {
      const name = pendingEvent;
      pendingEvent = null;
      onEvent(name, JSON.parse(new TextDecoder().decode(ev.data)));
    }
  };
  ws.onopen = () => { statusEl.textContent = "handshake…"; };
  ws.onclose = () => {
    statusEl.textContent = "disconnected, retrying…";
    clearInterval(keepAlive);
    setTimeout(connect, 1000);
  };
  clearInterval(keepAlive);
  keepAlive = setInterval(() => emit("ps"), 20000);
}

assetSel.addEventListener("change", selectChart);
document.getElementById("call").addEventListener("click", () => placeOrder("call"));
document.getElementById("put").addEventListener("click", () => placeOrder("put"));
tfSel.addEventListener("change", selectChart);
connect();
