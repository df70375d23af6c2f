import { describe, expect, it } from 'vitest';
import { PROBE_HOOK, exposeMarkers, exposeSeries, probing, seriesCandles } from './probe.js';

function fakeSeries(rows) {
  return { data: () => rows };
}

describe('the chart probe', () => {
  it('is on only when the page was opened with probe=1', () => {
    expect(probing('?probe=1')).toBe(true);
    expect(probing('?token=x&probe=1')).toBe(true);
    expect(probing('')).toBe(false);
    expect(probing('?probe=0')).toBe(false);
    expect(probing('?probe')).toBe(false);
  });

  it('adds nothing to a page opened without the flag', () => {
    const win = { location: { search: '?token=abc' } };
    const withdraw = exposeSeries('chart', fakeSeries([]), win);
    expect(PROBE_HOOK in win).toBe(false);
    withdraw();
  });

  it('reads the series candles as copies, and forgets a chart once withdrawn', () => {
    const rows = [{ time: 60, open: 1, high: 2, low: 0.5, close: 1.5, customValues: { x: 1 } }];
    const win = { location: { search: '?probe=1' } };
    const withdraw = exposeSeries('chart', fakeSeries(rows), win);
    const hook = win[PROBE_HOOK];
    expect(hook.charts()).toEqual(['chart']);
    const got = hook.candles('chart');
    expect(got).toEqual([{ time: 60, open: 1, high: 2, low: 0.5, close: 1.5 }]);
    got[0].close = 99;
    expect(rows[0].close).toBe(1.5);
    expect(hook.candles('chart-2')).toBeNull();
    expect(() => {
      'use strict';
      win[PROBE_HOOK] = null;
    }).toThrow();
    withdraw();
    expect(hook.candles('chart')).toBeNull();
  });

  it('copies whitespace points as they are (a time without prices)', () => {
    expect(seriesCandles(fakeSeries([{ time: 60 }]))).toEqual([{ time: 60 }]);
  });

  it('copies the colours of a candle drawn apart', () => {
    const row = { time: 60, open: 1, high: 2, low: 0.5, close: 1.5, color: '#1', wickColor: '#2', borderColor: '#3', ticks: 4 };
    expect(seriesCandles(fakeSeries([row]))).toEqual([
      { time: 60, open: 1, high: 2, low: 0.5, close: 1.5, color: '#1', borderColor: '#3', wickColor: '#2' },
    ]);
  });
});

describe('the markers probe', () => {
  it('reads the markers a chart was handed, only when probing', () => {
    const plugin = { markers: () => [{ id: 'entry-0', time: 60, position: 'belowBar', shape: 'arrowUp', color: '#fff', text: 'Call', size: 2 }] };
    const off = { location: { search: '' } };
    exposeMarkers('backtest-chart', plugin, off)();
    expect(PROBE_HOOK in off).toBe(false);
    const win = { location: { search: '?probe=1' } };
    const withdraw = exposeMarkers('backtest-chart', plugin, win);
    expect(win[PROBE_HOOK].markers('backtest-chart')).toEqual([
      { id: 'entry-0', time: 60, position: 'belowBar', shape: 'arrowUp', color: '#fff', text: 'Call' },
    ]);
    expect(win[PROBE_HOOK].markers('chart')).toBe(null);
    withdraw();
    expect(win[PROBE_HOOK].markers('backtest-chart')).toBe(null);
  });

  it('copies them onto the chart element for a driver that reads only elements', () => {
    const plugin = { markers: () => [{ id: 'expiry-0', time: 120, position: 'aboveBar', shape: 'circle', color: '#0f0', text: 'won' }] };
    const attrs = {};
    const element = { setAttribute: (k, v) => (attrs[k] = v), removeAttribute: (k) => delete attrs[k] };
    const withdraw = exposeMarkers('backtest-chart', plugin, { location: { search: '?probe=1' } }, element);
    expect(JSON.parse(attrs['data-probe-markers'])).toEqual(plugin.markers());
    withdraw();
    expect('data-probe-markers' in attrs).toBe(false);
  });
});
