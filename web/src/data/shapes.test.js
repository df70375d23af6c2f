import { describe, expect, it } from 'vitest';
import { paramValues, readAssets, readBacktestRuns, readDatasets, readStrategies, readTimeframes } from './shapes.js';
import { label, toSeconds } from './timeframes.js';

describe('server lists', () => {
  it('assets with payout and OTC marking, from the gateway or plain names', () => {
    const a = readAssets({ assets: [{ asset: 'EURUSD_otc', payout: 92 }, { asset: 'AUDCAD', label: 'AUD/CAD' }] });
    expect(a.map((x) => x.label)).toEqual(['AUDCAD', 'EURUSD (OTC) — 92%']);
    expect(a[1].otc).toBe(true);
    expect(readAssets(['GBPUSD_otc']).map((x) => x.asset)).toEqual(['GBPUSD_otc']);
  });

  it('timeframes from labels or seconds, sorted', () => {
    expect(readTimeframes({ timeframes: ['5m', '1m', 5, 'bad', '1h'] })).toEqual([5, 60, 300, 3600]);
    expect([5, 60, 14400, 86400].map(label)).toEqual(['5s', '1m', '4h', '1d']);
    expect(toSeconds('4H')).toBe(14400);
  });

  it('datasets as the backtest service lists them', () => {
    const d = readDatasets({
      datasets: [{ id: 'EURUSD_otc-1m', asset: 'EURUSD_otc', timeframe: '1m', source: 'realtime_stream', files: 2 }],
    });
    expect(d).toEqual([{ id: 'EURUSD_otc-1m', asset: 'EURUSD_otc', timeframe: 60, rows: 0, files: 2, start: null, end: null }]);
  });

  it('strategy forms from JSON schemas, values typed on the way out', () => {
    const [s] = readStrategies({
      strategies: [
        {
          name: 'sma_cross',
          summary: 'Two averages crossing',
          parameters: { type: 'object', properties: { fast: { type: 'integer', default: 5, minimum: 2 }, k: { type: 'number', default: 2 } } },
        },
      ],
    });
    expect(s.description).toBe('Two averages crossing');
    expect(s.params.map((p) => [p.name, p.type, p.default, p.min])).toEqual([['fast', 'integer', 5, 2], ['k', 'number', 2, undefined]]);
    expect(paramValues(s.params, { fast: '7', k: '2.5' })).toEqual({ fast: 7, k: 2.5 });
    expect(paramValues(s.params, { fast: '' })).toEqual({});
  });

  it('backtest answers: one result per dataset with trades and equity', () => {
    const runs = readBacktestRuns({
      strategy: 'sma_cross',
      engine: { balance: 1000 },
      results: [
        {
          dataset: { id: 'A-1m', asset: 'A', timeframe: '1m' },
          metrics: { trades: 2, win_rate: 0.5, by_hour: { 1: 2 } },
          trades: [
            { entry_time: 120, expiry_time: 180, direction: 1, pnl: 0.92 },
            { entry_time: 240, expiry_time: 300, direction: -1, pnl: -1 },
          ],
          equity: [[180, 1000.92], [300, 999.92]],
        },
      ],
    });
    expect(runs).toHaveLength(1);
    expect(runs[0].dataset).toBe('A-1m');
    expect(runs[0].trades.map((t) => [t.time, t.direction, t.won])).toEqual([[120, 'up', true], [240, 'down', false]]);
    expect(runs[0].equity).toEqual([
      { time: 120, value: 1000 },
      { time: 180, value: 1000.92 },
      { time: 300, value: 999.92 },
    ]);
  });
});
