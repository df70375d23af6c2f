import { describe, expect, it } from 'vitest';
import { addOrders, limitRows, modeBadge, orderDealIds, orderMarkers, orderRows, orderSummary } from './orders.js';

const base = { asset: 'EURUSD_otc', action: 'call', amount: 5, expiry: 60, mode: 'demo' };

describe('orders', () => {
  it('keeps each order once, in its newest state', () => {
    let m = addOrders({}, [{ ...base, request_id: 'a', state: 'requested', ts: 1 }]);
    m = addOrders(m, [{ ...base, request_id: 'a', state: 'open', ts: 2, deal_id: 'd' }]);
    m = addOrders(m, [{ ...base, request_id: 'a', state: 'requested', ts: 1 }]);
    expect(Object.keys(m)).toEqual(['a']);
    expect(m.a.state).toBe('open');
    expect([...orderDealIds(Object.values(m))]).toEqual(['d']);
  });

  it('marks entry and result apart from paper trades', () => {
    const orders = [
      { ...base, request_id: 'a', state: 'closed', opened_at: 100, expires_at: 160, profit: 4.6, mode: 'real' },
      { ...base, request_id: 'b', state: 'rejected', opened_at: 100, expires_at: 160 },
      { ...base, request_id: 'c', asset: 'GBPUSD_otc', state: 'open', opened_at: 100, expires_at: 160 },
    ];
    const got = orderMarkers(orders, 'EURUSD_otc');
    expect(got.map((m) => [m.kind, m.time, m.text])).toEqual([
      ['order-open', 100, 'REAL call 5'],
      ['order-won', 160, 'REAL won +4.60'],
    ]);
    expect(got.every((m) => m.shape !== 'arrowUp' && m.shape !== 'arrowDown')).toBe(true);
  });

  it('sums real and demo apart', () => {
    const s = orderSummary([
      { ...base, state: 'closed', profit: -5, mode: 'real' },
      { ...base, state: 'closed', profit: 4, mode: 'demo' },
      { ...base, state: 'open', mode: 'demo' },
    ]);
    expect(s.real).toEqual({ open: 0, closed: 1, won: 0, lost: 1, pnl: -5 });
    expect(s.demo).toEqual({ open: 1, closed: 1, won: 1, lost: 0, pnl: 4 });
  });

  it('lists running orders first and names limits', () => {
    const rows = orderRows([
      { request_id: 'x', state: 'closed', ts: 3 },
      { request_id: 'y', state: 'open', ts: 2 },
    ]);
    expect(rows.running.map((o) => o.request_id)).toEqual(['y']);
    expect(rows.done.map((o) => o.request_id)).toEqual(['x']);
    expect(limitRows({ daily_loss: { limit: 10, used: 5 } })).toEqual([
      { key: 'daily_loss', name: 'Loss today', limit: 10, used: 5, share: 0.5 },
    ]);
    expect(modeBadge({ mode: 'real' }).loud).toBe(true);
    expect(modeBadge(undefined).mode).toBe('off');
  });
});
