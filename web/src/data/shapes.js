// Readers for the server's lists (assets, datasets, strategies, backtest results). They accept
// small differences in shape so a renamed field does not blank the page.

import { normalizeTimeframes, toSeconds } from './timeframes.js';
import { readCandles, toEpochSeconds } from './candles.js';

function listOf(v, ...keys) {
  if (Array.isArray(v)) return v;
  if (v && typeof v === 'object') {
    for (const k of keys) if (Array.isArray(v[k])) return v[k];
    // {name: {...}} maps
    return Object.entries(v).map(([name, val]) => (val && typeof val === 'object' ? { name, ...val } : { name, value: val }));
  }
  return [];
}

/** Assets as [{asset, payout|null, otc, label}] sorted by name, from a list or a map. */
export function readAssets(payload) {
  const rows = listOf(payload, 'assets', 'items', 'data');
  const out = new Map();
  for (const r of rows) {
    const a = typeof r === 'string' ? { asset: r } : r || {};
    const asset = a.asset || a.symbol || a.name || a.id;
    if (typeof asset !== 'string' || !asset) continue;
    let payout = a.payout ?? a.profit ?? a.value ?? null;
    payout = typeof payout === 'number' && Number.isFinite(payout) ? payout : null;
    const otc = typeof a.otc === 'boolean' ? a.otc : /_otc$/i.test(asset);
    const pretty = asset.replace(/_otc$/i, '');
    const label = `${pretty}${otc ? ' (OTC)' : ''}${payout !== null ? ` — ${Math.round(payout)}%` : ''}`;
    out.set(asset, { asset, payout, otc, label, timeframes: normalizeTimeframes(a.timeframes) });
  }
  return [...out.values()].sort((x, y) => x.asset.localeCompare(y.asset));
}

/** Timeframes (seconds) found anywhere usual in a payload: {timeframes:[…]} or a list. */
export function readTimeframes(payload) {
  if (Array.isArray(payload)) return normalizeTimeframes(payload);
  if (payload && typeof payload === 'object') {
    for (const k of ['timeframes', 'tfs']) if (Array.isArray(payload[k])) return normalizeTimeframes(payload[k]);
  }
  return [];
}

/** Datasets as [{id, asset, timeframe (s), rows, start, end}] from /api/datasets. */
export function readDatasets(payload) {
  const rows = listOf(payload, 'datasets', 'items', 'data');
  const out = [];
  for (const d of rows) {
    if (!d || typeof d !== 'object') continue;
    const id = d.id ?? d.name ?? d.dataset ?? d.key;
    const asset = d.asset ?? d.symbol;
    const timeframe = toSeconds(d.timeframe_seconds ?? d.timeframe ?? d.tf ?? d.period ?? d.tf_label ?? '');
    if (id == null || !asset || !timeframe) continue;
    out.push({
      id: String(id),
      asset,
      timeframe,
      rows: Number(d.rows ?? d.row_count ?? d.count ?? d.candles ?? d.data?.candles ?? 0) || 0,
      files: Number(d.files ?? 0) || 0,
      start: toEpochSeconds(d.start_time ?? d.start ?? d.first ?? d.from ?? d.begin ?? null),
      end: toEpochSeconds(d.end_time ?? d.end ?? d.last ?? d.to ?? null),
    });
  }
  return out.sort((a, b) => a.asset.localeCompare(b.asset) || a.timeframe - b.timeframe);
}

/**
 * Strategies as [{name, title, description, params: [{name, type, default, min, max, step,
 * choices, title}]}] from GET /strategies: a list, or a map name -> JSON schema.
 */
export function readStrategies(payload) {
  const rows = listOf(payload, 'strategies', 'items', 'data');
  const out = [];
  for (const s of rows) {
    if (!s || typeof s !== 'object') continue;
    const name = s.name ?? s.id ?? s.key;
    if (!name) continue;
    const schema = s.params_schema ?? s.parameters ?? s.schema ?? s.params ?? {};
    out.push({
      name: String(name),
      title: s.title || String(name),
      description: s.description || s.summary || '',
      params: readParamSchema(schema),
    });
  }
  return out;
}

/** Form fields from a JSON schema {properties: {...}} or a list [{name, type, default, …}]. */
export function readParamSchema(schema) {
  let props = [];
  if (Array.isArray(schema)) props = schema.map((p) => [p.name, p]);
  else if (schema && typeof schema === 'object') {
    const p = schema.properties && typeof schema.properties === 'object' ? schema.properties : schema;
    props = Object.entries(p).filter(([, v]) => v && typeof v === 'object');
  }
  return props
    .filter(([name]) => typeof name === 'string' && name)
    .map(([name, p]) => {
      const choices = Array.isArray(p.enum) ? p.enum : Array.isArray(p.choices) ? p.choices : null;
      let type = p.type || (typeof p.default === 'number' ? 'number' : 'string');
      if (Array.isArray(type)) type = type.find((t) => t !== 'null') || 'string';
      return {
        name,
        title: p.title || name.replace(/_/g, ' '),
        description: p.description || '',
        type: choices ? 'choice' : type,
        default: p.default,
        min: p.minimum ?? p.exclusiveMinimum ?? p.min,
        max: p.maximum ?? p.exclusiveMaximum ?? p.max,
        step: p.multipleOf ?? p.step ?? (type === 'integer' ? 1 : 'any'),
        choices,
      };
    });
}

/** Form values turned into the types the schema asks for; empty fields are left out. */
export function paramValues(fields, values) {
  const out = {};
  for (const f of fields) {
    const v = values[f.name];
    if (v === undefined || v === '') continue;
    if (f.type === 'integer') out[f.name] = parseInt(v, 10);
    else if (f.type === 'number') out[f.name] = Number(v);
    else if (f.type === 'boolean') out[f.name] = v === true || v === 'true';
    else out[f.name] = v;
  }
  return out;
}

function direction(v) {
  if (typeof v === 'number') return v > 0 ? 'up' : v < 0 ? 'down' : '';
  const s = String(v ?? '').toLowerCase();
  if (/call|buy|up|long|higher|^1$/.test(s)) return 'up';
  if (/put|sell|down|short|lower|^-1$/.test(s)) return 'down';
  return s;
}

function won(t) {
  if (typeof t.won === 'boolean') return t.won;
  if (typeof t.win === 'boolean') return t.win;
  const o = String(t.outcome ?? '').toLowerCase();
  if (/win|won/.test(o)) return true;
  if (/loss|lost|lose/.test(o)) return false;
  for (const k of ['pnl', 'profit']) if (typeof t[k] === 'number') return t[k] > 0 ? true : t[k] < 0 ? false : null;
  return null;
}

/** One dataset's result as {dataset, metrics, trades, equity: [{time, value}], candles}. */
export function readBacktest(r) {
  r = r && typeof r === 'object' ? r : {};
  const metrics = r.metrics && typeof r.metrics === 'object' ? r.metrics : r.stats || {};
  const trades = listOf(r.trades ?? [], 'trades').map((t) => ({
    ...t,
    time: toEpochSeconds(t.entry_time ?? t.time ?? t.open_time ?? t.entry ?? t.start),
    exitTime: toEpochSeconds(t.expiry_time ?? t.exit_time ?? t.close_time ?? t.end ?? null),
    direction: direction(t.direction ?? t.side ?? t.type),
    won: won(t),
  }));
  let equity = r.equity ?? r.equity_curve ?? [];
  if (equity && !Array.isArray(equity) && typeof equity === 'object') {
    // {time: [...], value: [...]} column form
    const ts = equity.time ?? equity.times ?? equity.index ?? [];
    const vs = equity.value ?? equity.values ?? equity.equity ?? [];
    equity = ts.map((t, i) => ({ time: t, value: vs[i] }));
  }
  const eq = [];
  for (const p of equity) {
    const time = toEpochSeconds(Array.isArray(p) ? p[0] : (p.time ?? p.t ?? p.timestamp));
    const value = Number(Array.isArray(p) ? p[1] : (p.value ?? p.equity ?? p.balance));
    if (time !== null && Number.isFinite(value)) eq.push({ time, value });
  }
  // The chart takes one point per time: the last balance of that moment.
  const byTime = new Map(eq.map((p) => [p.time, p]));
  const ds = r.dataset && typeof r.dataset === 'object' ? r.dataset : { id: r.dataset };
  return {
    dataset: ds.id != null ? String(ds.id) : '',
    datasetLabel: ds.asset ? `${ds.asset}${ds.timeframe ? ` ${ds.timeframe}` : ''}` : String(ds.id ?? ''),
    metrics,
    trades: trades.filter((t) => t.time !== null),
    equity: [...byTime.values()].sort((a, b) => a.time - b.time),
    candles: readCandles(r.candles ?? []),
  };
}

/** Every dataset's result of one backtest answer ({results: [...]} or a single result). */
export function readBacktestRuns(payload) {
  const body = payload && typeof payload === 'object' ? (payload.result ?? payload) : {};
  const list = Array.isArray(body.results) ? body.results : [body];
  return list.map((r) => {
    const run = readBacktest(r);
    // The curve starts with the starting balance, at the first trade's opening.
    const start = Number((r && r.engine && r.engine.balance) ?? body.engine?.balance);
    const first = run.trades[0];
    if (Number.isFinite(start) && first && (!run.equity.length || first.time < run.equity[0].time)) {
      run.equity.unshift({ time: first.time, value: start });
    }
    return run;
  });
}

/** The metrics worth a table cell: numbers, strings and booleans (not nested tables). */
export function scalarMetrics(metrics) {
  return Object.fromEntries(
    Object.entries(metrics || {}).filter(([, v]) => v === null || ['number', 'string', 'boolean'].includes(typeof v)),
  );
}
