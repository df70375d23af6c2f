import { describe, expect, it } from 'vitest';
import {
  accountSummary,
  addDeals,
  addPaper,
  addSignal,
  dealMarkers,
  onChart,
  paperMarkers,
  paperSummary,
  signalMarkers,
} from './trading.js';

const sig = (time, direction, extra = {}) => ({
  id: `rsi|EURUSD_otc|1m#${time}`,
  asset: 'EURUSD_otc',
  timeframe: '1m',
  time,
  direction,
  confidence: 0.8,
  ...extra,
});

describe('live trading markers and numbers', () => {
  it('signals: a call is a green arrow up below the bar, a put a red arrow down above it', () => {
    const [call, put] = signalMarkers([sig(60, 'call'), sig(120, 'put')]);
    expect(call).toMatchObject({ time: 60, position: 'belowBar', shape: 'arrowUp', color: '#26a69a', text: 'call 80%' });
    expect(put).toMatchObject({ time: 120, position: 'aboveBar', shape: 'arrowDown', color: '#ef5350', text: 'put 80%' });
  });

  it('signals are kept once each, in time order, for their own chart only', () => {
    let list = [];
    for (const s of [sig(120, 'put'), sig(60, 'call'), sig(120, 'put')]) list = addSignal(list, s);
    expect(list.map((s) => s.time)).toEqual([60, 120]);
    expect(onChart(sig(60, 'call'), 'EURUSD_otc', 60)).toBe(true);
    expect(onChart(sig(60, 'call'), 'EURUSD_otc', 300)).toBe(false);
  });

  it('settled paper trades show the outcome and P/L at expiry; voided ones are grey', () => {
    const trades = [
      { kind: 'open', id: 'a', expiry_time: 120 },
      { kind: 'settle', id: 'a', expiry_time: 120, outcome: 1, pnl: 8 },
      { kind: 'settle', id: 'b', expiry_time: 180, outcome: -1, pnl: -10 },
      { kind: 'settle', id: 'c', expiry_time: 240, outcome: 0, pnl: 0 },
      { kind: 'void', id: 'd', expiry_time: 300, reason: 'gap' },
    ];
    expect(paperMarkers(trades).map((m) => [m.time, m.text, m.color])).toEqual([
      [120, 'won +8.00', '#26a69a'],
      [180, 'lost −10.00', '#ef5350'],
      [240, 'tie +0.00', '#c9d1d9'],
      [300, 'void', '#7d8590'],
    ]);
    expect(addPaper(addPaper([], trades[1]), trades[1])).toHaveLength(1);
  });

  it('paper panel: each book by its latest entry, win rate and total P/L', () => {
    const s = paperSummary([
      { kind: 'settle', book: 'x', balance: 1008, trades: 1, wins: 1, total_pnl: 8 },
      { kind: 'settle', book: 'y', balance: 990, trades: 1, wins: 0, losses: 1, total_pnl: -2 },
      { kind: 'settle', book: 'x', balance: 1016, trades: 2, wins: 2, total_pnl: 6 },
    ]);
    expect(s.total).toBe(6);
    expect(s.books.map((b) => [b.book, b.balance, b.trades, b.winRate])).toEqual([
      ['x', 1016, 2, 1],
      ['y', 990, 1, 0],
    ]);
  });

  it('deals: updated by id, shown as squares, closed ones summed', () => {
    let deals = addDeals({}, [{ id: 'd1', state: 'open', direction: 'call', amount: 10, open_time: 60 }]);
    deals = addDeals(deals, [{ id: 'd1', profit: 8, close_time: 120 }], 'closed');
    deals = addDeals(deals, [{ id: 'd2', state: 'closed', direction: 'put', profit: -10, open_time: 60, close_time: 120 }]);
    deals = addDeals(deals, [{ id: null, state: 'failed' }]);
    expect(Object.keys(deals)).toEqual(['d1', 'd2']);
    expect(accountSummary({ balance: 998, is_demo: true }, deals)).toEqual({
      balance: 998,
      isDemo: true,
      open: 0,
      closed: 2,
      profit: -2,
    });
    const m = dealMarkers(Object.values(deals));
    expect(m.map((x) => [x.kind, x.time, x.shape, x.text])).toEqual([
      ['deal-open', 60, 'square', 'you: call 10'],
      ['deal-closed', 120, 'square', 'you +8.00'],
      ['deal-open', 60, 'square', 'you: put'],
      ['deal-closed', 120, 'square', 'you −10.00'],
    ]);
  });
});
