// Automated trading as the trader reports it: mode, state, limits and their use, the orders, the
// results beside paper trading's, and the kill switch. The page can stop trading, never start it.

import { useMemo, useState } from 'react';
import { postJson } from './api.js';
import { limitRows, modeBadge, orderRows, orderSummary } from './data/orders.js';
import { money } from './data/trading.js';

function timeText(ts) {
  return Number.isFinite(Number(ts)) ? new Date(Number(ts) * 1000).toISOString().slice(11, 19) : '';
}

function Pnl({ testid, value, children }) {
  return (
    <span className="pnl" data-testid={testid} data-value={value ?? ''}>
      {children}{' '}
      <b className={value < 0 ? 'neg' : 'pos'}>{value == null ? '—' : money(value)}</b>
    </span>
  );
}

/** The kill switch: asks first, then sends the stop with the token the page holds. */
function StopButton({ state }) {
  const [asking, setAsking] = useState(false);
  const [answer, setAnswer] = useState(null);
  const stop = () => {
    setAsking(false);
    postJson('/api/trading/stop', {})
      .then((body) => setAnswer({ ok: true, text: body.message }))
      .catch((err) => setAnswer({ ok: false, text: `Could not stop trading: ${err.message}` }));
  };
  return (
    <div className="kill-switch">
      {!asking ? (
        <button className="stop" data-testid="trading-stop" onClick={() => setAsking(true)} disabled={state === 'stopped'}>
          Stop trading
        </button>
      ) : (
        <span data-testid="trading-stop-question">
          Stop placing orders now? Open orders run to their expiry.{' '}
          <button className="stop" data-testid="trading-stop-confirm" onClick={stop}>
            Yes, stop
          </button>{' '}
          <button data-testid="trading-stop-cancel" onClick={() => setAsking(false)}>
            No
          </button>
        </span>
      )}
      {answer && (
        <p className={answer.ok ? 'muted' : 'panel-error'} data-testid="trading-stop-answer" data-ok={String(answer.ok)}>
          {answer.text}
        </p>
      )}
    </div>
  );
}

function LimitTable({ limits }) {
  const rows = limitRows(limits);
  if (!rows.length) return null;
  return (
    <table className="limits">
      <tbody>
        {rows.map((l) => (
          <tr key={l.key} data-testid="trading-limit" data-key={l.key} data-used={l.used} data-limit={l.limit ?? ''}>
            <td>{l.name}</td>
            <td>
              {Number.isInteger(l.used) ? l.used : l.used.toFixed(2)} of {l.limit ?? '∞'}
            </td>
            <td>
              <span className="meter">
                <span className={l.share >= 1 ? 'full' : ''} style={{ width: `${Math.round((l.share ?? 0) * 100)}%` }} />
              </span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function OrderTable({ orders }) {
  if (!orders.length) return <p className="muted">No orders.</p>;
  return (
    <table className="orders">
      <tbody>
        {orders.map((o) => (
          <tr
            key={o.request_id}
            data-testid="order-row"
            data-request-id={o.request_id}
            data-state={o.state}
            data-result={o.result || ''}
            className={o.mode === 'real' ? 'real' : ''}
          >
            <td>{timeText(o.ts)}</td>
            <td>{o.mode === 'real' ? 'REAL' : 'demo'}</td>
            <td>
              {o.asset} {o.action} {o.amount}
            </td>
            <td>{o.state}</td>
            <td>{o.result ? `${o.result} ${money(o.profit)}` : o.reason || ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The Trading panel: what the trader does now and what came of it. */
export default function TradingPanel({ trading, orders, paperTotal }) {
  const list = useMemo(() => Object.values(orders), [orders]);
  const sums = useMemo(() => orderSummary(list), [list]);
  const rows = useMemo(() => orderRows(list), [list]);
  const badge = modeBadge(trading);
  const state = trading?.state || 'off';
  const results = trading?.results || {};
  return (
    <section className={`trading-panel trader ${badge.loud ? 'real-money' : ''}`} data-testid="trading-panel" data-state={state}>
      <h2>
        Trading{' '}
        <span className={`mode mode-${badge.mode}`} data-testid="trading-mode" data-mode={badge.mode}>
          {badge.text}
        </span>{' '}
        <span className={`state state-${state}`} data-testid="trading-state" data-state={state}>
          {state}
        </span>
      </h2>
      {trading?.reason && (
        <p className={state === 'stopped' ? 'panel-error' : 'muted'} data-testid="trading-reason">
          {state === 'stopped' ? 'Stopped: ' : ''}
          {trading.reason}
        </p>
      )}
      <p>
        <Pnl testid="pnl-real" value={sums.real.closed ? sums.real.pnl : null}>
          Real money P/L
        </Pnl>{' '}
        <Pnl testid="pnl-demo" value={sums.demo.closed ? sums.demo.pnl : null}>
          Demo P/L
        </Pnl>{' '}
        <Pnl testid="pnl-paper" value={paperTotal}>
          Paper P/L
        </Pnl>
      </p>
      <p className="muted" data-testid="trading-results">
        Won {results.wins ?? sums.real.won + sums.demo.won}, lost {results.losses ?? sums.real.lost + sums.demo.lost}
        {results.ties != null ? `, refunded ${results.ties}` : ''}
        {results.today_pnl != null ? `; today ${money(results.today_pnl)}` : ''}
      </p>
      <LimitTable limits={trading?.limits} />
      <h3>Open orders</h3>
      <div data-testid="open-orders" data-count={rows.running.length}>
        <OrderTable orders={rows.running} />
      </div>
      <h3>Latest results</h3>
      <div data-testid="ended-orders" data-count={rows.done.length}>
        <OrderTable orders={rows.done} />
      </div>
      <StopButton state={state} />
    </section>
  );
}
