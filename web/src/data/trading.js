// Live trading on the chart: strategy signals, paper trades and the user's own deals, as chart
// markers and as the numbers of the P/L panels. Pure: values in, values out.

import { toSeconds } from './timeframes.js';

export const MARKER_COLORS = {
  call: '#26a69a',
  put: '#ef5350',
  won: '#26a69a',
  lost: '#ef5350',
  tie: '#c9d1d9',
  void: '#7d8590',
  deal: '#4aa3ff',
  dealWon: '#2f81f7',
  dealLost: '#f0883e',
};

const KEEP = 1000;

function isCall(direction) {
  return direction === 'call' || direction === 1 || /^(call|up|buy|higher)$/i.test(String(direction));
}

function money(v) {
  const n = Number(v);
  if (!Number.isFinite(n)) return '?';
  return `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(2)}`;
}

/** Whether an item (signal or paper trade) belongs to the chart of `asset` at `timeframe` seconds. */
export function onChart(item, asset, timeframe) {
  return Boolean(item) && item.asset === asset && toSeconds(item.timeframe) === timeframe;
}

/** Add a signal to a list (no twice the same one), oldest first, at most KEEP. */
export function addSignal(list, s) {
  if (!s || s.time == null) return list;
  const key = s.id ?? `${s.run}|${s.asset}|${s.timeframe}|${s.time}`;
  if (list.some((x) => (x.id ?? `${x.run}|${x.asset}|${x.timeframe}|${x.time}`) === key)) return list;
  return [...list, s].sort((a, b) => a.time - b.time).slice(-KEEP);
}

/** Add a paper trade event; the same contract's same kind only once. */
export function addPaper(list, p) {
  if (!p || !p.kind) return list;
  if (list.some((x) => x.kind === p.kind && x.id === p.id)) return list;
  return [...list, p].slice(-KEEP);
}

/** The user's deals by id, updated with a `deal` event or each deal of a `deals` list. */
export function addDeals(map, deals, state) {
  const out = { ...map };
  for (const d of deals) {
    if (!d || d.id == null) continue; // failed orders have no deal
    const key = String(d.id);
    out[key] = { ...(out[key] || {}), ...d, state: d.state || state || out[key]?.state };
  }
  return out;
}

/** Chart markers of signals: a call is a green ▲ below the bar, a put a red ▼ above it. */
export function signalMarkers(signals) {
  return signals.map((s) => {
    const up = isCall(s.direction);
    const conf = Number.isFinite(Number(s.confidence)) ? ` ${Math.round(Number(s.confidence) * 100)}%` : '';
    return {
      kind: 'signal',
      time: Number(s.time),
      position: up ? 'belowBar' : 'aboveBar',
      shape: up ? 'arrowUp' : 'arrowDown',
      color: up ? MARKER_COLORS.call : MARKER_COLORS.put,
      text: `${up ? 'call' : 'put'}${conf}`,
    };
  });
}

/** Chart markers of settled paper trades (won / lost / tie with P/L, at expiry) and voided ones (grey). */
export function paperMarkers(trades) {
  const out = [];
  for (const p of trades) {
    if (p.kind === 'settle') {
      const outcome = Number(p.outcome) > 0 ? 'won' : Number(p.outcome) < 0 ? 'lost' : 'tie';
      out.push({
        kind: `paper-${outcome}`,
        time: Number(p.expiry_time),
        position: 'aboveBar',
        shape: 'circle',
        color: MARKER_COLORS[outcome],
        text: `${outcome} ${money(p.pnl)}`,
      });
    } else if (p.kind === 'void') {
      out.push({
        kind: 'paper-void',
        time: Number(p.expiry_time ?? p.entry_time),
        position: 'aboveBar',
        shape: 'circle',
        color: MARKER_COLORS.void,
        text: 'void',
      });
    }
  }
  return out;
}

/** Chart markers of the user's own deals: blue squares at the opening, and the result at closing. */
export function dealMarkers(deals) {
  const out = [];
  for (const d of deals) {
    const up = isCall(d.direction);
    if (Number.isFinite(Number(d.open_time))) {
      out.push({
        kind: 'deal-open',
        time: Number(d.open_time),
        position: up ? 'belowBar' : 'aboveBar',
        shape: 'square',
        color: MARKER_COLORS.deal,
        text: `you: ${up ? 'call' : 'put'} ${d.amount ?? ''}`.trim(),
      });
    }
    if (d.state === 'closed' && Number.isFinite(Number(d.close_time))) {
      const p = Number(d.profit);
      out.push({
        kind: 'deal-closed',
        time: Number(d.close_time),
        position: 'aboveBar',
        shape: 'square',
        color: p < 0 ? MARKER_COLORS.dealLost : MARKER_COLORS.dealWon,
        text: `you ${money(d.profit)}`,
      });
    }
  }
  return out;
}

/** Each paper book's latest numbers and the total P/L, from the paper trade events (oldest first). */
export function paperSummary(trades) {
  const books = {};
  let total = null;
  for (const p of trades) {
    if (!p || !p.book) continue;
    books[p.book] = {
      book: p.book,
      strategy: p.strategy || p.run,
      asset: p.asset,
      timeframe: p.timeframe,
      balance: Number(p.balance),
      trades: Number(p.trades) || 0,
      wins: Number(p.wins) || 0,
      losses: Number(p.losses) || 0,
      ties: Number(p.ties) || 0,
      voided: Number(p.voided) || 0,
    };
    if (Number.isFinite(Number(p.total_pnl))) total = Number(p.total_pnl);
  }
  const rows = Object.values(books)
    .map((b) => ({ ...b, winRate: b.trades ? b.wins / b.trades : null }))
    .sort((a, b) => a.book.localeCompare(b.book));
  return { books: rows, total };
}

/** The account's numbers: balance, and the closed deals' count and summed profit. */
export function accountSummary(balance, deals) {
  const list = Object.values(deals);
  const closed = list.filter((d) => d.state === 'closed' && Number.isFinite(Number(d.profit)));
  return {
    balance: Number.isFinite(Number(balance?.balance)) ? Number(balance.balance) : null,
    isDemo: balance?.is_demo ?? null,
    open: list.filter((d) => d.state === 'open').length,
    closed: closed.length,
    profit: closed.reduce((sum, d) => sum + Number(d.profit), 0),
  };
}

export { money };
