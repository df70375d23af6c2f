// Older candles joined to the chart's, and how a backfill stands, in words. Pure: values in,
// values out; ChartView and HistoryControl do the drawing.

import { readCandles } from './data/candles.js';

// Candles asked for per scroll to the left edge: enough for a few screens, quick to draw.
export const OLDER_PAGE = 500;

/**
 * The older candles of an answer placed before `current` (sorted): only those before its first
 * candle, so a time is never there twice. Returns {candles, added}.
 */
export function prependOlder(current, rows) {
  const first = current.length ? current[0].time : Infinity;
  const older = readCandles(rows).filter((c) => c.time < first);
  return { candles: older.length ? [...older, ...current] : current, added: older.length };
}

/** Whether an answer of `count` candles to a request for `limit` says history ends there. */
export function endsHistory(count, limit) {
  return count < limit;
}

/** The view after `added` candles were put before the shown ones: the same candles in sight. */
export function keptRange(range, added) {
  return range ? { from: range.from + added, to: range.to + added } : null;
}

/** A UTC time as the trader reads it: 2026-12-01 08:00. */
export function when(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

export const DEPTHS = [
  [1, '1 day'],
  [7, '1 week'],
  [30, '1 month'],
];

/** A backfill_progress message in words. */
export function progressText(p) {
  if (!p) return '';
  const pages = p.pages_planned ? `${p.pages}/${p.pages_planned} pages` : `${p.pages} pages`;
  const reached = p.reached != null ? `, back to ${when(p.reached)} UTC` : '';
  if (p.state === 'running') return `Getting history: ${p.candles} candles, ${pages}${reached}…`;
  if (p.state === 'done') return `History fetched: ${p.candles} new candles${reached}.`;
  return `Getting history failed: ${p.error || 'the backfill stopped'}`;
}
