import { describe, expect, it } from 'vitest';
import {
  MARKER_COLORS,
  heatCells,
  jobRequest,
  runsOfJobs,
  heatScale,
  jobProgress,
  jobsFraction,
  readResultHash,
  resultHash,
  tradeMarkers,
  tradeRows,
  walkForwardBars,
  percentiles,
} from './backtests.js';

const TRADES = [
  { time: 120, exitTime: 180, direction: 'up', outcome: 1, entry_price: 1.1, expiry_price: 1.2, pnl: 0.92, balance: 1000.92 },
  { time: 240, exitTime: 300, direction: 'down', outcome: -1, entry_price: 1.2, expiry_price: 1.3, pnl: -1, balance: 999.92 },
  { time: 330, exitTime: 400, direction: 'down', outcome: 0, entry_price: 1.3, expiry_price: 1.3, pnl: 0, balance: 999.92 },
];

describe('trade markers', () => {
  it('puts an arrow at every entry and a coloured dot at every expiry', () => {
    const m = tradeMarkers(TRADES, [60, 120, 180, 240, 300, 360]);
    const entries = m.filter((x) => x.id.startsWith('entry'));
    expect(entries.map((x) => [x.time, x.shape, x.position])).toEqual([
      [120, 'arrowUp', 'belowBar'],
      [240, 'arrowDown', 'aboveBar'],
      [300, 'arrowDown', 'aboveBar'], // 330 falls in the candle opened at 300
    ]);
    const expiries = m.filter((x) => x.id.startsWith('expiry'));
    expect(expiries.map((x) => [x.time, x.text, x.color])).toEqual([
      [180, 'won', MARKER_COLORS.won],
      [300, 'lost', MARKER_COLORS.lost],
      [360, 'tie', MARKER_COLORS.tie],
    ]);
    expect(m.map((x) => x.time)).toEqual([...m.map((x) => x.time)].sort((a, b) => a - b));
  });

  it('leaves out a trade before the first candle', () => {
    const m = tradeMarkers([{ time: 10, exitTime: 20, direction: 'up', outcome: 1 }], [60, 120]);
    expect(m).toEqual([]);
  });
});

describe('the trades table', () => {
  it('reads each trade in words', () => {
    const rows = tradeRows(TRADES);
    expect(rows[0]).toMatchObject({
      n: 1,
      opened: '1970-01-01 00:02:00',
      side: 'call',
      entry: '1.1',
      expiry: '1.2',
      result: 'won',
      profit: '0.92',
      balance: '1000.92',
    });
    expect(rows.map((r) => [r.side, r.result])).toEqual([
      ['call', 'won'],
      ['put', 'lost'],
      ['put', 'tie'],
    ]);
  });
});

describe('the heat map', () => {
  it('runs from red at the lowest to green at the highest, dark where nothing ran', () => {
    const s = heatScale([
      [-2, 0],
      [null, 2],
    ]);
    expect([s.min, s.max]).toEqual([-2, 2]);
    expect(s.color(-2)).toBe('rgb(239, 83, 80)');
    expect(s.color(2)).toBe('rgb(38, 166, 154)');
    expect(s.color(0)).toBe('rgb(90, 98, 110)');
    expect(s.color(null)).toBe('#1b2330');
  });

  it('gives one cell per pair of settings', () => {
    const cells = heatCells({ xs: [3, 5], ys: [20], values: [[1, null]] });
    expect(cells).toEqual([
      { x: 3, y: 20, xi: 0, yi: 0, value: 1 },
      { x: 5, y: 20, xi: 1, yi: 0, value: null },
    ]);
  });

  it('has one colour when every value is the same', () => {
    expect(heatScale([[4, 4]]).color(4)).toBe('rgb(90, 98, 110)');
  });
});

describe('jobs and links', () => {
  it('says what a job has done', () => {
    const job = { state: 'running', progress: { candles_done: 0, candles_total: 300, points_done: 4, points_total: 8, fraction: 0.5 } };
    expect(jobProgress(job)).toEqual({ fraction: 0.5, text: '0 of 300 candles, 4 of 8 points' });
    expect(jobProgress({ state: 'done', progress: { fraction: 1 } }).fraction).toBe(1);
    expect(jobsFraction([job, { state: 'cancelled', progress: {} }])).toBe(0.75);
  });

  it('carries the job ids in the address and reads them back', () => {
    const hash = resultHash(['ab12', 'cd34']);
    expect(hash).toBe('#/backtests/ab12,cd34');
    expect(readResultHash(hash)).toEqual(['ab12', 'cd34']);
    expect(readResultHash('#/other')).toEqual([]);
    expect(readResultHash('')).toEqual([]);
  });
});

describe('analyses', () => {
  it('turns walk-forward windows into in- and out-of-sample bars', () => {
    const wf = { metric: 'net_profit', windows: [{ test_window: [60, 120], train_metric: 5, test: { net_profit: -1 }, params: { fast: 3 } }] };
    expect(walkForwardBars(wf)).toEqual([{ n: 1, from: 60, inSample: 5, outOfSample: -1, params: { fast: 3 } }]);
  });

  it('orders Monte Carlo percentiles', () => {
    expect(percentiles({ p95: 3, p5: 1, p50: 2 })).toEqual([
      { p: 5, value: 1 },
      { p: 50, value: 2 },
      { p: 95, value: 3 },
    ]);
  });
});

describe('jobs into runs', () => {
  it('asks for what the kind of run needs', () => {
    const run = { kind: 'grid', metric: 'roi', train: 100, test: 20, shuffles: 50 };
    expect(jobRequest(['d'], 'sma_cross', { fast: 3 }, { fast: '3:9:2', slow: ' ' }, run)).toEqual({
      datasets: ['d'],
      strategy: 'sma_cross',
      params: { fast: 3 },
      grid: { fast: '3:9:2' },
      metric: 'roi',
    });
    expect(jobRequest(['d'], 's', {}, {}, { ...run, kind: 'monte_carlo' })).toEqual({
      datasets: ['d'],
      strategy: 's',
      params: {},
      monte_carlo: 50,
    });
    expect(jobRequest(['d'], 's', {}, { a: '1,2' }, { ...run, kind: 'walk_forward' }).walk_forward).toEqual({ train: 100, test: 20 });
  });

  it('gives one run per job and dataset, in the order of the ids', () => {
    const done = {
      state: 'done',
      request: { strategy: 'sma_cross', datasets: ['EURUSD_otc-1m'] },
      result: {
        results: [
          {
            dataset: { id: 'EURUSD_otc-1m', asset: 'EURUSD_otc', timeframe: '1m' },
            metrics: { trades: 1 },
            trades: [{ entry_time: 60, expiry_time: 120, direction: 1, outcome: 1 }],
            equity: [[120, 1000.92]],
            grid: { metric: 'roi' },
            engine: { balance: 500 },
          },
        ],
      },
    };
    const cancelled = { state: 'cancelled', request: { strategy: 'rsi_reversal', datasets: ['x'] } };
    const runs = runsOfJobs(['b', 'a', 'c'], { a: done, b: cancelled });
    expect(runs.map((r) => [r.jobId, r.key, r.error ?? null])).toEqual([
      ['b', 'rsi_reversal', 'Cancelled'],
      ['a', 'sma_cross · EURUSD_otc 1m', null],
    ]);
    expect(runs[1].datasetInfo).toMatchObject({ id: 'EURUSD_otc-1m', asset: 'EURUSD_otc', timeframe: 60 });
    expect(runs[1].result.trades[0]).toMatchObject({ time: 60, exitTime: 120, direction: 'up' });
    expect(runs[1].analyses.grid).toEqual({ metric: 'roi' });
    expect(runs[1].startBalance).toBe(500);
  });
});
