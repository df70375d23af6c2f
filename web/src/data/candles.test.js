import { describe, expect, it } from 'vitest';
import {
  INCOMPLETE_COLORS,
  applyUpdate,
  lastClose,
  mergeHistory,
  readCandle,
  readCandles,
  toEpochSeconds,
} from './candles.js';

const c = (time, close, extra = {}) => ({ time, open: close, high: close, low: close, close, ...extra });

describe('reading candles', () => {
  it('reads maps, short keys, arrays, strings, milliseconds and ISO times', () => {
    expect(readCandle({ time: 60, open: 1, high: 2, low: 0.5, close: 1.5, ticks: 3, closed: true })).toEqual({
      time: 60, open: 1, high: 2, low: 0.5, close: 1.5, ticks: 3, closed: true,
    });
    expect(readCandle({ t: 1_700_000_040_000, o: '1', h: '2', l: '0.5', c: '1.5' })).toEqual({ time: 1_700_000_040, open: 1, high: 2, low: 0.5, close: 1.5 });
    expect(readCandle([120, 1, 2, 0.5, 1.5]).time).toBe(120);
    expect(toEpochSeconds('2026-11-22T03:05:00Z')).toBe(Date.UTC(2026, 10, 22, 3, 5) / 1000);
  });

  it('drops unusable rows and keeps the last row of a time, sorted', () => {
    const rows = [c(180, 3), { time: 'x', open: 1 }, null, c(60, 1), c(120, 2), c(60, 1.1)];
    expect(readCandles(rows).map((r) => [r.time, r.close])).toEqual([[60, 1.1], [120, 2], [180, 3]]);
  });
});

describe('history and live updates', () => {
  it('history fills in around shown candles and corrects the ones it has (after a reconnect)', () => {
    const shown = [c(180, 30), c(240, 40)];
    const merged = mergeHistory(shown, [c(60, 1), c(120, 2), c(180, 3)]);
    expect(merged.map((r) => [r.time, r.close])).toEqual([[60, 1], [120, 2], [180, 3], [240, 40]]);
  });

  it('the forming candle updates in place, a new one appends, a late one inserts', () => {
    const list = readCandles([c(60, 1), c(120, 2)]);
    expect(applyUpdate(list, c(120, 2.5))).toBe('update');
    expect(list).toHaveLength(2);
    expect(lastClose(list)).toBe(2.5);
    expect(applyUpdate(list, c(180, 3))).toBe('append');
    expect(lastClose(list)).toBe(3);
    expect(applyUpdate(list, c(90, 9))).toBe('insert');
    expect(applyUpdate(list, c(60, 1.5))).toBe('insert');
    expect(list.map((r) => [r.time, r.close])).toEqual([[60, 1.5], [90, 9], [120, 2.5], [180, 3]]);
    expect(applyUpdate(list, { time: 240 })).toBe('ignore');
  });

  it('any sequence of updates ends as the last value per time, in order', () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const list = [];
    const expected = new Map();
    for (let i = 0; i < 2000; i++) {
      const time = 60 * Math.floor(rnd() * 50);
      const candle = c(time, Math.round(rnd() * 1e5) / 1e5);
      applyUpdate(list, candle);
      expected.set(time, candle.close);
    }
    const want = [...expected.entries()].sort((a, b) => a[0] - b[0]);
    expect(list.map((r) => [r.time, r.close])).toEqual(want);
  });
});

describe('candles the capture did not see whole', () => {
  const base = { time: 60, open: 1, high: 2, low: 0.5, close: 1.5 };

  it('carry faded colours of their direction, and complete ones none', () => {
    const up = readCandle({ ...base, complete: false, volume: 12 });
    expect(up).toMatchObject({ complete: false, volume: 12, ...INCOMPLETE_COLORS.up });
    const down = readCandle({ ...base, close: 0.7, complete: false });
    expect(down).toMatchObject(INCOMPLETE_COLORS.down);
    const whole = readCandle({ ...base, complete: true });
    expect('color' in whole || 'complete' in whole).toBe(false);
    expect(INCOMPLETE_COLORS.up.color).not.toBe(INCOMPLETE_COLORS.down.color);
  });

  it('lose the faded colours once the candle comes whole', () => {
    const list = [readCandle({ ...base, complete: false })];
    expect(applyUpdate(list, { ...base, close: 1.6, complete: true })).toBe('update');
    expect(list[0].color).toBeUndefined();
    expect(applyUpdate(list, list[0])).toBe('update'); // a candle read twice reads the same
    expect(readCandle(readCandle({ ...base, complete: false }))).toEqual(readCandle({ ...base, complete: false }));
  });
});
