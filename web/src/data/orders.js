// The trader's orders and status as the Trading panel and the chart show them. Pure: values in,
// values out. An order comes over the socket once per change (`order_update`); it is kept once,
// in its newest state, by its request id.

const KEEP = 1000;

export const ORDER_COLORS = {
  entry: '#a371f7',
  won: '#3fb950',
  lost: '#db61a2',
  refund: '#c9d1d9',
};

function isFiniteNumber(v) {
  return v !== null && v !== undefined && v !== '' && Number.isFinite(Number(v));
}

function signed(v) {
  const n = Number(v);
  if (!Number.isFinite(n)) return '?';
  return `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(2)}`;
}

/** Orders by request id, each in its newest state (an older change arriving late is ignored). */
export function addOrders(map, orders) {
  const out = { ...map };
  for (const o of orders || []) {
    if (!o || !o.request_id) continue;
    const had = out[o.request_id];
    if (had && Number(had.ts) > Number(o.ts)) continue;
    out[o.request_id] = { ...(had || {}), ...o };
  }
  const ids = Object.keys(out);
  if (ids.length > KEEP) {
    ids.sort((a, b) => Number(out[a].ts) - Number(out[b].ts));
    for (const id of ids.slice(0, ids.length - KEEP)) delete out[id];
  }
  return out;
}

/** Won, lost or refund for a closed order with a profit; null before. */
export function resultOf(o) {
  if (o.result) return o.result;
  if (o.state !== 'closed' || !isFiniteNumber(o.profit)) return null;
  const p = Number(o.profit);
  return p > 0 ? 'won' : p < 0 ? 'lost' : 'refund';
}

/**
 * Chart markers of the trader's orders on `asset`: a purple circle at the entry (the order's
 * direction and stake; REAL in capitals for real money) and a square at the expiry with the
 * result. Paper trades are arrows and grey-green circles; the user's own deals blue squares.
 */
export function orderMarkers(orders, asset) {
  const out = [];
  for (const o of orders) {
    if (o.asset !== asset || o.state === 'rejected' || o.state === 'requested') continue;
    const up = o.action === 'call';
    const mode = o.mode === 'real' ? 'REAL' : 'demo';
    if (isFiniteNumber(o.opened_at)) {
      out.push({
        kind: 'order-open',
        time: Number(o.opened_at),
        position: up ? 'belowBar' : 'aboveBar',
        shape: 'circle',
        color: ORDER_COLORS.entry,
        text: `${mode} ${o.action} ${o.amount}`,
      });
    }
    const result = resultOf(o);
    if (result && isFiniteNumber(o.expires_at)) {
      out.push({
        kind: `order-${result}`,
        time: Number(o.expires_at),
        position: 'aboveBar',
        shape: 'square',
        color: ORDER_COLORS[result],
        text: `${mode} ${result} ${signed(o.profit)}`,
      });
    }
  }
  return out;
}

/** The deal ids of the trader's orders: those deals are drawn as orders, not twice. */
export function orderDealIds(orders) {
  return new Set(orders.filter((o) => o.deal_id != null).map((o) => String(o.deal_id)));
}

/** Open and closed orders and the closed ones' P/L, for real and demo money apart. */
export function orderSummary(orders) {
  const empty = () => ({ open: 0, closed: 0, won: 0, lost: 0, pnl: 0 });
  const by = { real: empty(), demo: empty() };
  for (const o of orders) {
    const side = by[o.mode === 'real' ? 'real' : 'demo'];
    if (o.state === 'open' || o.state === 'requested') side.open += 1;
    const result = resultOf(o);
    if (!result) continue;
    side.closed += 1;
    if (result === 'won') side.won += 1;
    if (result === 'lost') side.lost += 1;
    side.pnl += Number(o.profit);
  }
  return by;
}

/** The orders still running (asked for or open) and the newest ended ones, newest first. */
export function orderRows(orders, ended = 10) {
  const list = [...orders].sort((a, b) => Number(b.ts) - Number(a.ts));
  const running = list.filter((o) => o.state === 'open' || o.state === 'requested' || o.state === 'unknown');
  const done = list.filter((o) => !running.includes(o)).slice(0, ended);
  return { running, done };
}

const LIMIT_NAMES = {
  max_open: 'Open orders',
  daily_loss: 'Loss today',
  max_per_hour: 'Orders this hour',
  max_losses: 'Losses in a row',
};

/** Each limit with how much of it is used, in the order the panel lists them. */
export function limitRows(limits) {
  return Object.entries(limits || {}).map(([key, v]) => {
    const limit = Number(v?.limit);
    const used = Number(v?.used) || 0;
    return {
      key,
      name: LIMIT_NAMES[key] || key,
      limit: Number.isFinite(limit) ? limit : null,
      used,
      share: Number.isFinite(limit) && limit > 0 ? Math.min(1, used / limit) : null,
    };
  });
}

/** What the mode badge says: off, demo, or REAL MONEY (loud on purpose). */
export function modeBadge(trading) {
  const mode = trading?.mode || 'off';
  if (mode === 'real') return { mode, text: 'REAL MONEY', loud: true };
  if (mode === 'demo') return { mode, text: 'demo account', loud: false };
  return { mode: 'off', text: 'off', loud: false };
}
