// Candle lists for the chart: read loose shapes, merge history with live updates, keep order.
//
// A candle here is {time, open, high, low, close, ticks?, closed?, complete?, volume?} with `time`
// its open time in epoch seconds (what lightweight-charts takes). Lists are kept sorted by time
// with no duplicates. A candle the capture did not see whole (`complete: false`) also carries
// its own faded colours, so the chart never passes it off as a whole one.

/** The colours of a candle with a gap in capture: the direction's colour, faded. */
export const INCOMPLETE_COLORS = {
  up: { color: '#26a69a40', borderColor: '#26a69a99', wickColor: '#26a69a99' },
  down: { color: '#ef535040', borderColor: '#ef535099', wickColor: '#ef535099' },
};

function num(v) {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

/** Epoch seconds from seconds, milliseconds or an ISO date; null when unreadable. */
export function toEpochSeconds(v) {
  if (typeof v === 'string' && !/^\s*-?\d+(\.\d+)?\s*$/.test(v)) {
    const ms = Date.parse(v);
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
  }
  const n = num(v);
  if (n === null) return null;
  // Anything past year 2286 in seconds is really milliseconds.
  return Math.floor(n > 1e10 ? n / 1000 : n);
}

/**
 * One candle from any of the shapes the services send: a map with time/open/high/low/close
 * (or t/o/h/l/c, timestamp/date), or an array [time, open, high, low, close]. Null if unusable.
 */
export function readCandle(raw) {
  if (raw == null) return null;
  let time, open, high, low, close, ticks, closed, complete, volume;
  if (Array.isArray(raw)) {
    [time, open, high, low, close] = raw;
  } else if (typeof raw === 'object') {
    time = raw.time ?? raw.t ?? raw.timestamp ?? raw.date;
    open = raw.open ?? raw.o;
    high = raw.high ?? raw.h;
    low = raw.low ?? raw.l;
    close = raw.close ?? raw.c;
    ticks = raw.ticks;
    closed = raw.closed;
    complete = raw.complete;
    volume = raw.volume;
  } else {
    return null;
  }
  const c = {
    time: toEpochSeconds(time),
    open: num(open),
    high: num(high),
    low: num(low),
    close: num(close),
  };
  if (Object.values(c).some((v) => v === null)) return null;
  if (num(ticks) !== null) c.ticks = num(ticks);
  if (typeof closed === 'boolean') c.closed = closed;
  if (num(volume) !== null) c.volume = num(volume);
  if (complete === false) {
    c.complete = false;
    Object.assign(c, INCOMPLETE_COLORS[c.close >= c.open ? 'up' : 'down']);
  }
  return c;
}

/** Candles from a list of loose rows: unusable rows dropped, sorted, the last one kept per time. */
export function readCandles(rows) {
  const byTime = new Map();
  for (const raw of Array.isArray(rows) ? rows : []) {
    const c = readCandle(raw);
    if (c) byTime.set(c.time, c);
  }
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/**
 * History merged with what is already shown. History wins for the times it has: it is what the
 * server knows now (after a reconnect, a candle shown as forming may have closed differently
 * meanwhile). Shown candles outside it are kept. Returns a new sorted list.
 */
export function mergeHistory(current, history) {
  const byTime = new Map();
  for (const c of current) byTime.set(c.time, c);
  for (const c of readCandles(history)) byTime.set(c.time, c);
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/**
 * Apply one live candle to a sorted list, in place. Returns what the chart must do:
 *  - "append": a new newest candle,
 *  - "update": the newest candle changed (the forming candle updating in place),
 *  - "insert": an older candle changed; the chart must be given the whole list again,
 *  - "ignore": unusable.
 */
export function applyUpdate(list, raw) {
  const c = readCandle(raw);
  if (!c) return 'ignore';
  const n = list.length;
  if (n === 0 || c.time > list[n - 1].time) {
    list.push(c);
    return 'append';
  }
  if (c.time === list[n - 1].time) {
    list[n - 1] = c;
    return 'update';
  }
  // Binary search for an older slot: rare (a late close of the previous candle).
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].time < c.time) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo].time === c.time) list[lo] = c;
  else list.splice(lo, 0, c);
  return 'insert';
}

/** The close of the newest candle, or null for an empty list. */
export function lastClose(list) {
  return list.length ? list[list.length - 1].close : null;
}
