// Timeframe names: seconds <-> labels ("5s", "1m", "4h", "1d"), the same rules as the services.

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds of a timeframe given as seconds (60, "60") or a label ("1m", "4H"); null if unreadable. */
export function toSeconds(value) {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+)\s*([smhdSMHD]?)\s*$/.exec(value);
  if (!m) return null;
  const s = Number(m[1]) * UNITS[(m[2] || 's').toLowerCase()];
  return s > 0 ? s : null;
}

/** Label of a timeframe in seconds: 60 -> "1m", 14400 -> "4h", 5 -> "5s". */
export function label(seconds) {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** Words for a timeframe in menus: 60 -> "1 minute", 300 -> "5 minutes". */
export function words(seconds) {
  const names = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  for (const [name, size] of names) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

export const DEFAULT_TIMEFRAMES = [60, 300, 900, 3600, 14400];

/** A sorted list of unique timeframes in seconds from labels or numbers; bad ones are dropped. */
export function normalizeTimeframes(values) {
  const out = new Set();
  for (const v of values || []) {
    const s = toSeconds(v);
    if (s) out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}
