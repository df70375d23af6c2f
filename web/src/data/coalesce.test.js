import { describe, expect, it } from 'vitest';
import { Coalescer, coalesce } from './coalesce.js';

describe('coalescing', () => {
  it('keeps the newest update of each candle, ordered by time', () => {
    const out = coalesce([{ time: 120, close: 1 }, { time: 60, close: 2 }, { time: 120, close: 3 }]);
    expect(out).toEqual([{ time: 60, close: 2 }, { time: 120, close: 3 }]);
  });

  it('flushes once per scheduled turn with everything queued since', () => {
    const turns = [];
    const flushed = [];
    const q = new Coalescer((batch) => flushed.push(batch), (fn) => turns.push(fn));
    for (let i = 0; i < 20; i++) q.push({ time: 60, close: i });
    q.push({ time: 120, close: 99 });
    expect(turns).toHaveLength(1); // one frame asked for, not 21
    turns.shift()();
    expect(flushed).toEqual([[{ time: 60, close: 19 }, { time: 120, close: 99 }]]);
    q.push({ time: 120, close: 100 });
    expect(turns).toHaveLength(1);
    q.clear();
    turns.shift()();
    expect(flushed).toHaveLength(1); // cleared before the frame: nothing stale drawn
  });
});
