// The result page: the runs side by side (a table of measures, their money over time on one
// chart), then one run in detail: its trades on the price chart and in a table, and its analyses.

import { useState } from 'react';
import { resultHash, tradeRows } from '../data/backtests.js';
import { scalarMetrics } from '../data/shapes.js';
import { EquityChart, HeatMap, MonteCarloPlot, WalkForwardPlot } from './Plots.jsx';
import TradeChart from './TradeChart.jsx';

const TRADE_LIMIT = 500;

function fmt(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
  if (v === null || v === undefined) return '—';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function MetricsTable({ runs, state }) {
  const names = [...new Set(runs.flatMap((r) => (r.result ? Object.keys(scalarMetrics(r.result.metrics)) : [])))];
  return (
    <table data-testid="backtest-metrics" data-state={state}>
      <thead>
        <tr>
          <th>Measure</th>
          {runs.map((r) => (
            <th key={r.key}>
              {r.key}{' '}
              <a href={resultHash([r.jobId])} data-testid="result-link" data-job={r.jobId} title="Link to this result">
                link
              </a>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {runs.some((r) => r.error) && (
          <tr>
            <td>Problem</td>
            {runs.map((r) => (
              <td key={r.key} className="panel-error" data-testid="backtest-error">
                {r.error || ''}
              </td>
            ))}
          </tr>
        )}
        {names.map((m) => (
          <tr key={m}>
            <td>{m.replace(/_/g, ' ')}</td>
            {runs.map((r) => {
              const v = r.result?.metrics[m];
              return (
                <td key={r.key} data-metric={m} data-strategy={r.strategy} data-dataset={r.dataset} data-value={JSON.stringify(v ?? null)}>
                  {fmt(v)}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function TradesTable({ trades }) {
  const rows = tradeRows(trades.slice(0, TRADE_LIMIT));
  return (
    <>
      <table className="trades" data-testid="backtest-trades">
        <thead>
          <tr>
            <th>#</th>
            <th>Opened (UTC)</th>
            <th>Direction</th>
            <th>Entry price</th>
            <th>Expired (UTC)</th>
            <th>Expiry price</th>
            <th>Result</th>
            <th>Profit</th>
            <th>Balance</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.n} data-testid="trade-row" data-time={r.time} data-side={r.side} data-result={r.result}>
              <td>{r.n}</td>
              <td>{r.opened}</td>
              <td className={r.side === 'call' ? 'pos' : 'neg'}>{r.side === 'call' ? '▲ call' : '▼ put'}</td>
              <td>{r.entry}</td>
              <td>{r.expired}</td>
              <td>{r.expiry}</td>
              <td className={`result-${r.result}`}>{r.result}</td>
              <td>{r.profit}</td>
              <td>{r.balance}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {trades.length > TRADE_LIMIT && (
        <p className="muted">
          Showing the first {TRADE_LIMIT} of {trades.length} trades.
        </p>
      )}
    </>
  );
}

/** `runs`: [{key, jobId, strategy, dataset, datasetInfo, result, analyses, error}]. */
export default function Results({ runs, state, datasets }) {
  const [shown, setShown] = useState(0);
  const current = runs[Math.min(shown, runs.length - 1)];
  const ids = [...new Set(runs.map((r) => r.jobId))];
  const info = current && (datasets.find((d) => d.id === current.dataset) || current.datasetInfo);
  return (
    <section className="bt-results">
      <h2>
        Results{' '}
        <a href={resultHash(ids)} data-testid="results-link" className="muted" title="Link to these results">
          (link)
        </a>
      </h2>
      <MetricsTable runs={runs} state={state} />
      <h3>Money over time</h3>
      <EquityChart runs={runs} />
      {current?.result && (
        <>
          <h3>
            Trades of{' '}
            <select data-testid="backtest-shown" value={shown} onChange={(e) => setShown(Number(e.target.value))}>
              {runs.map((r, i) => (
                <option key={r.key} value={i}>
                  {r.key}
                </option>
              ))}
            </select>{' '}
            on the chart
          </h3>
          <p className="muted legend">
            <span className="call">▲ call</span> <span className="put">▼ put</span> at the opening;{' '}
            <span className="result-won">● won</span> <span className="result-lost">● lost</span>{' '}
            <span className="result-tie">● tie</span> at the expiry.
          </p>
          <TradeChart dataset={info} trades={current.result.trades} />
          <HeatMap grid={current.analyses?.grid} />
          <WalkForwardPlot wf={current.analyses?.walk_forward} />
          <MonteCarloPlot mc={current.analyses?.monte_carlo} start={current.startBalance} />
          <TradesTable trades={current.result.trades} />
        </>
      )}
    </section>
  );
}
