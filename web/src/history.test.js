import { describe, expect, it } from 'vitest';
import { endsHistory, keptRange, prependOlder, progressText, when } from './history.js';

const c = (time, close = 1) => ({ time, open: 1, high: 2, low: 0.5, close });

describe('prependOlder', () => {
  it('puts only older candles before the shown ones, each time once', () => {
    const current = [c(300), c(360)];
    const { candles, added } = prependOlder(current, [c(180), c(240), c(300, 9), c(240, 7)]);
    expect(candles.map((x) => x.time)).toEqual([180, 240, 300, 360]);
    expect(added).toBe(2);
    expect(candles[1].close).toBe(7); // the last row of a time wins, as in history
    expect(candles[2]).toBe(current[0]); // what is shown is not replaced
  });

  it('leaves the list as it is when nothing older comes', () => {
    const current = [c(300)];
    expect(prependOlder(current, [c(300), c(360)])).toEqual({ candles: current, added: 0 });
    expect(prependOlder([], [c(60)]).added).toBe(1);
  });
});

describe('the view and the end of history', () => {
  it('keeps the same candles in sight after a prepend', () => {
    expect(keptRange({ from: 3, to: 80 }, 500)).toEqual({ from: 503, to: 580 });
    expect(keptRange(null, 5)).toBeNull();
  });

  it('history ends when fewer candles come than were asked for', () => {
    expect(endsHistory(499, 500)).toBe(true);
    expect(endsHistory(500, 500)).toBe(false);
  });
});

describe('progressText', () => {
  it('says where a backfill stands', () => {
    const p = { state: 'running', candles: 300, pages: 2, pages_planned: 10, reached: 1764576000, error: null };
    expect(progressText(p)).toBe('Getting history: 300 candles, 2/10 pages, back to 2025-12-01 08:00 UTC…');
    expect(progressText({ ...p, state: 'done' })).toBe('History fetched: 300 new candles, back to 2025-12-01 08:00 UTC.');
    expect(progressText({ ...p, state: 'failed', error: 'no page' })).toBe('Getting history failed: no page');
    expect(progressText(null)).toBe('');
    expect(when(null)).toBe('—');
  });
});
