// The whole page: provider switch, status, charts, collected data and backtests.

import { useEffect, useMemo, useReducer, useRef, useState } from 'react';
import ChartPanel from './ChartPanel.jsx';
import Backtests from './Backtests.jsx';
import { connect } from './gateway.js';
import { getJson } from './api.js';
import { initialStatus, isLive, notLiveReason, reduceStatus } from './data/status.js';
import { readAssets, readDatasets, readTimeframes } from './data/shapes.js';
import { label, words } from './data/timeframes.js';
import { NO_INDICATORS } from './ChartView.js';
import { accountSummary, addDeals, addPaper, money, paperSummary } from './data/trading.js';
import { addOrders } from './data/orders.js';
import { readResultHash } from './data/backtests.js';
import TradingPanel from './TradingPanel.jsx';

const INDICATORS = [
  ['sma', 'Average (SMA 20)'],
  ['ema', 'Average (EMA 50)'],
  ['bollinger', 'Bollinger bands'],
  ['rsi', 'RSI'],
  ['macd', 'MACD'],
];

function Dot({ state, testid, children, title }) {
  return (
    <span className={`dot ${state}`} data-testid={testid} data-state={state} title={title}>
      {children}
    </span>
  );
}

function dateText(t) {
  return t ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 16) : '?';
}

export default function App() {
  const [status, dispatch] = useReducer((s, e) => reduceStatus(s, e, Date.now()), initialStatus);
  const [provider, setProvider] = useState('platform');
  // A result's link (`#/backtests/<id>`) opens the backtest page.
  const [page, setPage] = useState(() => (readResultHash(window.location.hash).length ? 'backtest' : 'chart'));
  const [assets, setAssets] = useState([]);
  const [timeframes, setTimeframes] = useState([]);
  const [datasets, setDatasets] = useState([]);
  const [platform, setPlatform] = useState(null);
  const [follow, setFollow] = useState(false);
  const [layout, setLayout] = useState(1);
  const [indicators, setIndicators] = useState(NO_INDICATORS);
  const [errors, setErrors] = useState([]);
  const [dataError, setDataError] = useState('');
  const [paper, setPaper] = useState([]);
  const [deals, setDeals] = useState({});
  const [balance, setBalance] = useState(null);
  // The trader's orders (newest state of each) and its status, as the gateway relays them.
  const [orders, setOrders] = useState({});
  const [trading, setTrading] = useState(null);
  const [lastTrades, setLastTrades] = useState(null);
  // The latest change in the broker's protocol the capture noticed: data may be missing.
  const [protocol, setProtocol] = useState(null);
  const [protocolSeen, setProtocolSeen] = useState(null);
  const sock = useRef(null);

  // Paper trades and the user's deals so far; live ones come over the socket.
  const refreshTrading = () => {
    getJson('/api/paper?limit=1000')
      .then((body) => setPaper((old) => (body.paper || []).reduce(addPaper, old)))
      .catch(() => {});
    getJson('/api/deals')
      .then((body) => {
        setDeals((old) => addDeals(old, body.deals || []));
        if (body.balance != null) setBalance({ balance: body.balance, is_demo: body.is_demo });
      })
      .catch(() => {});
    getJson('/api/orders?limit=1000')
      .then((body) => setOrders((old) => addOrders(old, body.orders)))
      .catch(() => {});
    getJson('/api/trading')
      .then((body) => body && setTrading(body))
      .catch(() => {});
  };

  const refreshAssets = () =>
    getJson('/api/assets')
      .then((body) => {
        const list = readAssets(body);
        if (list.length) setAssets(list);
        const tfs = readTimeframes(body);
        if (tfs.length) setTimeframes(tfs);
      })
      .catch(() => {});

  const refreshLists = () => {
    refreshAssets();
    getJson('/api/datasets')
      .then((body) => {
        setDatasets(readDatasets(body));
        setDataError('');
      })
      .catch((err) => setDataError(err.message));
    getJson('/health')
      .then((body) => {
        const tfs = readTimeframes(body);
        if (tfs.length) setTimeframes(tfs);
        dispatch({ type: 'status', payload: body });
      })
      .catch(() => {});
  };

  // One connection for status, the asset list and what PocketOption shows.
  useEffect(() => {
    const s = connect();
    sock.current = s;
    s.on('connect', () => {
      dispatch({ type: 'connect' });
      s.emit('get_available_data', {}, (reply) => reply && onAvailable(reply));
      refreshLists();
      refreshTrading();
    });
    s.on('paper_trade', (p) => setPaper((old) => addPaper(old, p)));
    s.on('deal', (d) => setDeals((old) => addDeals(old, [d])));
    s.on('deals', (msg) => setDeals((old) => addDeals(old, msg?.deals || [], msg?.state)));
    s.on('balance', (b) => b && setBalance(b));
    s.on('order_update', (o) => setOrders((old) => addOrders(old, [o])));
    s.on('trading_status', (t) => t && setTrading(t));
    s.on('disconnect', (reason) => dispatch({ type: 'disconnect', reason }));
    s.on('connect_error', (err) => dispatch({ type: 'disconnect', reason: err?.message }));
    s.on('connection_status', (payload) => {
      dispatch({ type: 'status', payload });
      // New services or streams may have come with it (the candle service's timeframes).
      refreshAssets();
    });
    s.on('chrome_reconnected', () => dispatch({ type: 'chrome_reconnected' }));
    s.on('protocol_report', (p) => p && p.summary && setProtocol(p));
    s.on('backend_reconnected', () => {
      dispatch({ type: 'backend_reconnected' });
      refreshLists();
    });
    s.on('assets', (payload) => {
      const list = readAssets(payload);
      if (list.length) setAssets(list);
      refreshAssets();
    });
    const onAvailable = (payload) => {
      const list = readAssets(payload?.assets ?? []);
      if (list.length) setAssets(list);
      const tfs = readTimeframes(payload);
      if (tfs.length) setTimeframes(tfs);
      if (payload?.datasets) setDatasets(readDatasets(payload.datasets));
    };
    s.on('available_data', onAvailable);
    s.on('platform_state', (p) => p && setPlatform(p));
    s.on('stream_error', (e) =>
      setErrors((old) => [...old.slice(-3), { at: Date.now(), text: e?.message || e?.code || 'Unknown problem' }]),
    );
    const clock = setInterval(() => dispatch({ type: 'tick' }), 500);
    return () => {
      clearInterval(clock);
      s.removeAllListeners();
      s.disconnect();
    };
  }, []);

  useEffect(() => {
    if (sock.current?.connected) sock.current.emit('follow_platform', { enabled: follow });
  }, [follow]);

  // Until the server knows any asset and timeframe (a fresh install), ask again every 2 s.
  const waiting = status.gateway === 'connected' && (!assets.length || !timeframes.length);
  useEffect(() => {
    if (!waiting) return undefined;
    const t = setInterval(refreshAssets, 2000);
    return () => clearInterval(t);
  }, [waiting]); // eslint-disable-line react-hooks/exhaustive-deps

  const live = isLive(status);
  const reason = notLiveReason(status);
  // Live: only the timeframes the server makes; none known yet means none to pick.
  const tfs = timeframes;
  const panels = useMemo(() => Array.from({ length: layout }, (_, i) => i), [layout]);
  const gatewayState = status.gateway === 'connected' ? 'connected' : 'disconnected';
  const dealList = useMemo(() => Object.values(deals), [deals]);
  const orderList = useMemo(() => Object.values(orders), [orders]);
  const paperNow = useMemo(() => paperSummary(paper), [paper]);
  const account = useMemo(() => accountSummary(balance, deals), [balance, deals]);

  return (
    <div className="app">
      <header>
        <h1>QuantumFlux</h1>
        <nav>
          <button className={page === 'chart' ? 'on' : ''} onClick={() => setPage('chart')} data-testid="page-chart">
            Chart
          </button>
          <button className={page === 'backtest' ? 'on' : ''} onClick={() => setPage('backtest')} data-testid="page-backtest">
            Backtests
          </button>
        </nav>
        <div className="status">
          <Dot state={gatewayState} testid="connection-status" title={status.gatewayReason}>
            Server {gatewayState === 'connected' ? 'connected' : 'not connected'}
          </Dot>
          <Dot state={status.redis} testid="redis-status">
            Database {status.redis === 'connected' ? 'OK' : status.redis === 'unknown' ? '?' : 'down'}
          </Dot>
          <Dot state={status.chrome} testid="chrome-status">
            Chrome {status.chrome === 'connected' ? 'connected' : status.chrome === 'unknown' ? '?' : 'not connected'}
          </Dot>
          {protocol && (
            <Dot state="warning" testid="protocol-alarm" title={`${protocol.summary}. ${protocol.suggestion}`}>
              Protocol changed
            </Dot>
          )}
          {Object.entries(status.services).map(([name, s]) => (
            <Dot
              key={name}
              state={s.alive === null ? 'unknown' : s.alive ? 'connected' : 'disconnected'}
              testid={`service-${name}`}
            >
              {name}
            </Dot>
          ))}
        </div>
      </header>

      {status.banner && (provider === 'platform' || status.gateway !== 'connected') && (
        <div className={`banner ${status.banner.kind}`} data-testid="status-banner" data-kind={status.banner.kind}>
          {status.banner.text}
        </div>
      )}
      {protocol && protocolSeen !== protocol.ts && (
        <div className="banner warning" data-testid="protocol-report">
          <span data-testid="protocol-summary">{protocol.summary}.</span>{' '}
          <span data-testid="protocol-suggestion">{protocol.suggestion}</span>{' '}
          <button onClick={() => setProtocolSeen(protocol.ts)} className="link">
            dismiss
          </button>
        </div>
      )}
      {errors.length > 0 && (
        <div className="banner problem" data-testid="stream-errors">
          {errors[errors.length - 1].text}{' '}
          <button onClick={() => setErrors([])} className="link">
            dismiss
          </button>
        </div>
      )}

      {page === 'chart' ? (
        <main>
          <div className="toolbar">
            <label>
              Data from{' '}
              <select data-testid="provider-select" value={provider} onChange={(e) => setProvider(e.target.value)}>
                <option value="platform">Platform (live)</option>
                <option value="csv">CSV (collected data)</option>
              </select>
            </label>
            <label title="When on, the first chart shows what you pick in PocketOption">
              <input
                type="checkbox"
                data-testid="follow-platform"
                checked={follow}
                disabled={provider !== 'platform'}
                onChange={(e) => setFollow(e.target.checked)}
              />{' '}
              Follow PocketOption
            </label>
            <span className="muted" data-testid="platform-state" data-asset={platform?.asset || ''}>
              PocketOption shows:{' '}
              {platform?.asset
                ? `${platform.asset}${platform.period ? `, ${words(Number(platform.period)) || label(platform.period)}` : ''}`
                : 'nothing yet'}
            </span>
            <label>
              Charts{' '}
              <select data-testid="layout-select" value={layout} onChange={(e) => setLayout(Number(e.target.value))}>
                {[1, 2, 3, 4].map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
            <span className="indicators">
              {INDICATORS.map(([key, name]) => (
                <label key={key}>
                  <input
                    type="checkbox"
                    data-testid={`indicator-${key}`}
                    checked={indicators[key]}
                    onChange={(e) => setIndicators({ ...indicators, [key]: e.target.checked })}
                  />{' '}
                  {name}
                </label>
              ))}
            </span>
          </div>
          {provider === 'platform' && !live && !status.banner && (
            <div className="notice" data-testid="not-live-reason">
              {reason}
            </div>
          )}
          <div className={`grid n${layout}`}>
            {panels.map((i) => (
              <ChartPanel
                key={`${provider}-${i}`}
                index={i}
                provider={provider}
                assets={assets}
                timeframes={tfs}
                datasets={datasets}
                indicators={indicators}
                live={live}
                notLive={reason}
                platform={platform}
                follow={i === 0 && follow}
                initial={i > 0 ? { timeframe: tfs[Math.min(i, tfs.length - 1)] } : undefined}
                paper={paper}
                deals={dealList}
                orders={orderList}
                trades={lastTrades}
              />
            ))}
          </div>
          <div className="trading">
            <TradingPanel trading={trading} orders={orders} paperTotal={paperNow.total} />
            <PaperPanel summary={paperNow} />
            <AccountPanel account={account} />
          </div>
          {provider === 'csv' && (
            <section className="datasets">
              <h2>Collected data</h2>
              {dataError && <p className="panel-error">Could not list the collected data: {dataError}</p>}
              {!datasets.length && !dataError && <p className="muted">Nothing collected yet.</p>}
              {datasets.length > 0 && (
                <table data-testid="dataset-table">
                  <thead>
                    <tr>
                      <th>Asset</th>
                      <th>Candle size</th>
                      <th>Candles</th>
                      <th>From</th>
                      <th>To</th>
                    </tr>
                  </thead>
                  <tbody>
                    {datasets.map((d) => (
                      <tr key={d.id}>
                        <td>{d.asset}</td>
                        <td>{words(d.timeframe)}</td>
                        <td>{d.rows || (d.files ? `${d.files} file${d.files === 1 ? '' : 's'}` : '?')}</td>
                        <td>{dateText(d.start)}</td>
                        <td>{dateText(d.end)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          )}
        </main>
      ) : (
        <Backtests datasets={datasets} onRefresh={refreshLists} onTrades={setLastTrades} />
      )}
    </div>
  );
}

function pct(v) {
  return v == null ? '—' : `${Math.round(v * 100)}%`;
}

/** Paper trading: each book's balance, trades and win rate, and the total P/L. */
function PaperPanel({ summary }) {
  return (
    <section className="trading-panel" data-testid="paper-panel">
      <h2>
        Paper trading{' '}
        <span data-testid="paper-total" data-value={summary.total ?? ''} className={summary.total < 0 ? 'neg' : 'pos'}>
          {summary.total == null ? '' : `P/L ${money(summary.total)}`}
        </span>
      </h2>
      {!summary.books.length ? (
        <p className="muted">No paper trades yet: the signals service opens them on strong signals.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Strategy</th>
              <th>Asset</th>
              <th>Balance</th>
              <th>Trades</th>
              <th>Won</th>
              <th>Win rate</th>
            </tr>
          </thead>
          <tbody>
            {summary.books.map((b) => (
              <tr
                key={b.book}
                data-testid="paper-book"
                data-book={b.book}
                data-balance={b.balance}
                data-trades={b.trades}
                data-wins={b.wins}
              >
                <td>{b.strategy}</td>
                <td>
                  {b.asset}, {b.timeframe}
                </td>
                <td>{Number.isFinite(b.balance) ? b.balance.toFixed(2) : '—'}</td>
                <td>{b.trades}</td>
                <td>{b.wins}</td>
                <td>{pct(b.winRate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The user's own account: balance and the result of the closed deals. */
function AccountPanel({ account }) {
  return (
    <section className="trading-panel" data-testid="account-panel">
      <h2>Your account{account.isDemo === true ? ' (demo)' : ''}</h2>
      <p>
        Balance:{' '}
        <b data-testid="account-balance" data-value={account.balance ?? ''}>
          {account.balance == null ? 'not known yet' : account.balance.toFixed(2)}
        </b>
      </p>
      <p>
        Closed deals: {account.closed}, open: {account.open}. P/L of closed deals:{' '}
        <b data-testid="account-profit" data-value={account.profit} className={account.profit < 0 ? 'neg' : 'pos'}>
          {money(account.profit)}
        </b>
      </p>
    </section>
  );
}
