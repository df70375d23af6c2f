// Small REST helpers for the gateway (same origin).

import { token } from './gateway.js';

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

/** GET a JSON document; throws an Error with a plain message on failure. */
export async function getJson(path, { signal } = {}) {
  const res = await fetch(path, { signal, headers: headers({ Accept: 'application/json' }) });
  if (!res.ok) throw new Error(await problem(res));
  return res.json();
}

/** POST a JSON body and read the JSON answer. */
export async function postJson(path, body, { signal } = {}) {
  const res = await fetch(path, {
    method: 'POST',
    signal,
    headers: headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(await problem(res));
  return res.json();
}

async function problem(res) {
  let detail = '';
  try {
    const body = await res.json();
    detail = body.message || body.detail || body.error || '';
    if (typeof detail !== 'string') detail = JSON.stringify(detail);
  } catch {
    /* not JSON */
  }
  return detail || `The server answered ${res.status} ${res.statusText}`.trim();
}

/** The first of several GETs that works (for endpoints whose path may differ between versions). */
export async function getFirst(paths, opts) {
  let last;
  for (const p of paths) {
    try {
      return await getJson(p, opts);
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      last = err;
    }
  }
  throw last || new Error('nothing to fetch');
}

export const DATASET_LIMIT = 200000;

/**
 * The candles of a collected dataset: from the dataset itself when the server offers that,
 * else the same asset and timeframe from the recent candles the server keeps (`fallback` true).
 */
export async function datasetCandles(ds, opts) {
  const id = encodeURIComponent(ds.id);
  try {
    // The whole dataset (the server's largest answer); the chart shows the newest part first.
    const body = await getJson(`/api/datasets/${id}/candles?limit=${DATASET_LIMIT}`, opts);
    return { candles: Array.isArray(body) ? body : body.candles || [], fallback: false };
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    const q = `asset=${encodeURIComponent(ds.asset)}&timeframe=${ds.timeframe}&limit=5000`;
    const body = await getJson(`/api/candles?${q}`, opts);
    return { candles: Array.isArray(body) ? body : body.candles || [], fallback: true };
  }
}

/** The `limit` closed candles of a live series before `before` (epoch seconds), oldest first:
 * the stored series, then the files on disk. Fewer than `limit` means history ends there. */
export async function olderCandles(asset, timeframe, before, limit, opts) {
  const q = new URLSearchParams({ asset, timeframe: String(timeframe), limit: String(limit), before: String(before) });
  const body = await getJson(`/api/candles?${q}`, opts);
  return Array.isArray(body) ? body : body.candles || [];
}

/** DELETE a resource and read the JSON answer. */
export async function deleteJson(path, { signal } = {}) {
  const res = await fetch(path, { method: 'DELETE', signal, headers: headers({ Accept: 'application/json' }) });
  if (!res.ok) throw new Error(await problem(res));
  return res.json();
}

const JOBS = '/api/backtests/jobs';

/** Start a backtest job (the POST /api/backtests body plus `kind`); answers {id, kind, state}. */
export function submitJob(request, kind = 'backtest', opts) {
  return postJson(JOBS, { ...request, kind }, opts);
}

/** A job: {id, kind, state, progress, result, error, created, finished, request}. */
export function getJob(id, opts) {
  return getJson(`${JOBS}/${encodeURIComponent(id)}`, opts);
}

/** Ask the service to stop a job (a finished one stays as it is). */
export function cancelJob(id, opts) {
  return deleteJson(`${JOBS}/${encodeURIComponent(id)}`, opts);
}
