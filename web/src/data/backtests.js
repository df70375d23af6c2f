// What the backtest result page shows, worked out from the service's answers (pure: values in,
// values out). The components only draw what these return.

import { readBacktestRuns, readDatasets } from './shapes.js';

export const MARKER_COLORS = {
  call: '#4aa3ff',
  put: '#f5a623',
  won: '#26a69a',
  lost: '#ef5350',
  tie: '#9aa4b1',
};
export const FINAL_STATES = ['done', 'failed', 'cancelled'];
export const JOB_KINDS = [
  ['backtest', 'Single run'],
  ['grid', 'Grid of settings'],
  ['walk_forward', 'Walk-forward'],
  ['monte_carlo', 'Monte Carlo'],
];

/** How a trade ended: 'won', 'lost' or 'tie' (the engine's outcome +1/−1/0, else its profit). */
export function tradeResult(t) {
  const o = Number(t.outcome);
  if (t.outcome !== undefined && t.outcome !== null && Number.isFinite(o)) return o > 0 ? 'won' : o < 0 ? 'lost' : 'tie';
  if (t.won === true) return 'won';
  if (t.won === false) return 'lost';
  return 'tie';
}

/** 'call' for a contract on the price going up, 'put' for down. */
export function tradeSide(t) {
  return t.direction === 'up' ? 'call' : 'put';
}

/** The open time of the candle `time` falls in (`times` sorted), or null before the first. */
export function snapTime(times, time) {
  if (!times.length || time < times[0]) return null;
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= time) lo = mid;
    else hi = mid - 1;
  }
  return times[lo];
}

/**
 * The chart markers of a run's trades: an arrow at each entry (▲ call below the candle, ▼ put
 * above it) and a dot at each expiry coloured by the result. A marker must sit on a candle the
 * chart holds, so times are snapped to the candle they fall in; without candles they are kept.
 */
export function tradeMarkers(trades, candleTimes = []) {
  const at = (time) => (candleTimes.length ? snapTime(candleTimes, time) : time);
  const out = [];
  trades.forEach((t, i) => {
    const side = tradeSide(t);
    const entry = at(t.time);
    if (entry != null) {
      out.push({
        id: `entry-${i}`,
        time: entry,
        position: side === 'call' ? 'belowBar' : 'aboveBar',
        shape: side === 'call' ? 'arrowUp' : 'arrowDown',
        color: MARKER_COLORS[side],
        text: side === 'call' ? 'Call' : 'Put',
      });
    }
    const expiry = t.exitTime == null ? null : at(t.exitTime);
    if (expiry != null) {
      const result = tradeResult(t);
      out.push({
        id: `expiry-${i}`,
        time: expiry,
        position: side === 'call' ? 'aboveBar' : 'belowBar',
        shape: 'circle',
        color: MARKER_COLORS[result],
        text: result,
      });
    }
  });
  // lightweight-charts wants markers in time order; a stable sort keeps entries before expiries.
  return out.sort((a, b) => a.time - b.time);
}

function utc(seconds) {
  return seconds == null ? '—' : new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

function price(v) {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : '—';
}

function money(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : '—';
}

/** The rows of the trades table, in a trader's words. */
export function tradeRows(trades) {
  return trades.map((t, i) => ({
    n: i + 1,
    time: t.time,
    opened: utc(t.time),
    expired: utc(t.exitTime),
    side: tradeSide(t),
    entry: price(t.entry_price),
    expiry: price(t.expiry_price),
    result: tradeResult(t),
    profit: money(t.pnl),
    balance: money(t.balance),
  }));
}

/**
 * A colour scale for the heat map: red for the lowest value, through grey, to green for the
 * highest. Returns {min, max, color(v)}; a missing value (a refused combination) is dark.
 */
export function heatScale(values) {
  const finite = values.flat().filter((v) => typeof v === 'number' && Number.isFinite(v));
  const min = finite.length ? Math.min(...finite) : 0;
  const max = finite.length ? Math.max(...finite) : 0;
  const color = (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '#1b2330';
    const f = max === min ? 0.5 : (v - min) / (max - min);
    const lerp = (a, b, k) => Math.round(a + (b - a) * k);
    const [from, to, k] = f < 0.5 ? [[239, 83, 80], [90, 98, 110], f * 2] : [[90, 98, 110], [38, 166, 154], f * 2 - 1];
    return `rgb(${lerp(from[0], to[0], k)}, ${lerp(from[1], to[1], k)}, ${lerp(from[2], to[2], k)})`;
  };
  return { min, max, color };
}

/** The heat map's cells: one per (x, y) setting with its value, as {x, y, xi, yi, value}. */
export function heatCells(heatmap) {
  if (!heatmap) return [];
  const cells = [];
  heatmap.ys.forEach((y, yi) =>
    heatmap.xs.forEach((x, xi) => cells.push({ x, y, xi, yi, value: heatmap.values[yi]?.[xi] ?? null })),
  );
  return cells;
}

/** One line for a job's progress: candles and sweep points done, and the share done (0–1). */
export function jobProgress(job) {
  const p = job?.progress || {};
  const parts = [];
  if (p.candles_total) parts.push(`${p.candles_done ?? 0} of ${p.candles_total} candles`);
  if (p.points_total) parts.push(`${p.points_done ?? 0} of ${p.points_total} points`);
  const fraction = FINAL_STATES.includes(job?.state) ? 1 : Number(p.fraction) || 0;
  return { fraction, text: parts.join(', ') || (job?.state === 'queued' ? 'waiting to start' : 'starting') };
}

/** The share done of several jobs together (each weighs the same). */
export function jobsFraction(jobs) {
  return jobs.length ? jobs.reduce((s, j) => s + jobProgress(j).fraction, 0) / jobs.length : 0;
}

export const RESULT_PREFIX = '#/backtests/';

/** The link of one or more results: the page address with the job ids. */
export function resultHash(ids) {
  return `${RESULT_PREFIX}${ids.map(encodeURIComponent).join(',')}`;
}

/** The job ids a page address (`location.hash`) asks to show; [] when it asks for none. */
export function readResultHash(hash) {
  if (!String(hash || '').startsWith(RESULT_PREFIX)) return [];
  return hash
    .slice(RESULT_PREFIX.length)
    .split(',')
    .map((s) => decodeURIComponent(s.trim()))
    .filter(Boolean);
}

/** The walk-forward windows as bars: in-sample (train) and out-of-sample (test) figure per window. */
export function walkForwardBars(wf) {
  const metric = wf?.metric || 'net_profit';
  return (wf?.windows || []).map((w, i) => ({
    n: i + 1,
    from: w.test_window?.[0] ?? null,
    inSample: Number(w.train_metric ?? NaN),
    outOfSample: Number(w.test?.[metric] ?? NaN),
    params: w.params || {},
  }));
}

/** The Monte Carlo spread of one measure as [{p, value}] from low to high percentile. */
export function percentiles(spread) {
  return Object.entries(spread || {})
    .map(([k, v]) => ({ p: Number(k.replace(/^p/, '')), value: Number(v) }))
    .filter((x) => Number.isFinite(x.p) && Number.isFinite(x.value))
    .sort((a, b) => a.p - b.p);
}

/**
 * The body of POST /api/backtests/jobs for one strategy: its settings, and what the kind of run
 * needs (`run`: {kind, metric, train, test, shuffles}; `ranges`: setting -> "3:9:2" or "3,5").
 */
export function jobRequest(datasets, strategy, params, ranges, run) {
  const body = { datasets, strategy, params };
  if (run.kind === 'grid' || run.kind === 'walk_forward') {
    body.grid = Object.fromEntries(Object.entries(ranges || {}).filter(([, v]) => String(v ?? '').trim() !== ''));
    body.metric = run.metric || 'net_profit';
  }
  if (run.kind === 'walk_forward') body.walk_forward = { train: Number(run.train), test: Number(run.test) };
  if (run.kind === 'monte_carlo') body.monte_carlo = Number(run.shuffles);
  return body;
}

function jobRuns(id, job) {
  const strategy = job.request?.strategy || job.result?.strategy || job.kind || 'backtest';
  if (job.state !== 'done' || !job.result) {
    const error = job.error || (job.state === 'cancelled' ? 'Cancelled' : job.state === 'failed' ? 'Failed' : null);
    return [{ key: strategy, jobId: id, strategy, dataset: job.request?.datasets?.[0] ?? '', error, state: job.state }];
  }
  const raw = Array.isArray(job.result.results) ? job.result.results : [job.result];
  return readBacktestRuns(job.result).map((result, i) => ({
    key: `${strategy} · ${result.datasetLabel || result.dataset}`,
    jobId: id,
    strategy,
    dataset: result.dataset,
    datasetInfo: readDatasets([raw[i]?.dataset ?? {}])[0] ?? null,
    result,
    analyses: { grid: raw[i]?.grid, walk_forward: raw[i]?.walk_forward, monte_carlo: raw[i]?.monte_carlo },
    startBalance: Number(raw[i]?.engine?.balance ?? job.result.engine?.balance),
    state: job.state,
  }));
}

/**
 * The runs to show side by side, in the order of the job ids: one per job and dataset. A job
 * not known (yet) is left out; one that failed or was cancelled shows why.
 */
export function runsOfJobs(ids, jobs) {
  const seen = new Map();
  const out = [];
  for (const id of ids) {
    const job = jobs[id];
    if (!job) continue;
    for (const run of job.missing ? [{ key: id, jobId: id, strategy: '', dataset: '', error: job.missing }] : jobRuns(id, job)) {
      // The same strategy on the same data twice (two links opened together) needs two columns.
      const n = (seen.get(run.key) || 0) + 1;
      seen.set(run.key, n);
      out.push(n > 1 ? { ...run, key: `${run.key} (${n})` } : run);
    }
  }
  return out;
}
