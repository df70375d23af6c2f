// Backtests: pick data, strategies and their settings (forms from the service's schemas), run,
// and compare the results side by side.

import { useEffect, useRef, useState } from 'react';
import { LineSeries, createChart } from 'lightweight-charts';
import { ChartView } from './ChartView.js';
import { datasetCandles, getFirst, postJson } from './api.js';
import { paramValues, readBacktestRuns, readStrategies, scalarMetrics } from './data/shapes.js';
import { words } from './data/timeframes.js';

const LINE_COLORS = ['#4aa3ff', '#f5a623', '#26a69a', '#ef5350', '#9c7bd8', '#e0c341'];

function fmt(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
  if (v === null || v === undefined) return '—';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function Field({ field, value, onChange }) {
  const common = { 'data-testid': `param-${field.name}`, title: field.description };
  if (field.type === 'choice') {
    return (
      <select {...common} value={value ?? ''} onChange={(e) => onChange(e.target.value)}>
        {field.choices.map((c) => (
          <option key={String(c)} value={c}>
            {String(c)}
          </option>
        ))}
      </select>
    );
  }
  if (field.type === 'boolean') {
    return <input {...common} type="checkbox" checked={value === true || value === 'true'} onChange={(e) => onChange(e.target.checked)} />;
  }
  const numeric = field.type === 'integer' || field.type === 'number';
  return (
    <input
      {...common}
      type={numeric ? 'number' : 'text'}
      min={field.min}
      max={field.max}
      step={numeric ? field.step : undefined}
      value={value ?? ''}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}

function EquityChart({ results }) {
  const box = useRef(null);
  useEffect(() => {
    const chart = createChart(box.current, {
      autoSize: true,
      layout: { background: { color: '#10151c' }, textColor: '#c9d1d9' },
      grid: { vertLines: { color: '#1b2330' }, horzLines: { color: '#1b2330' } },
      timeScale: { timeVisible: true },
    });
    results.forEach((r, i) => {
      if (!r.result) return;
      const s = chart.addSeries(LineSeries, { color: LINE_COLORS[i % LINE_COLORS.length], lineWidth: 2, title: r.key });
      s.setData(r.result.equity);
    });
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [results]);
  return <div className="equity" ref={box} data-testid="equity-chart" />;
}

function TradeChart({ dataset, result }) {
  const box = useRef(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    setMissing(false);
    const view = new ChartView(box.current);
    const ctl = new AbortController();
    const show = (candles) => {
      setMissing(!candles.length);
      view.setCandles(candles);
      view.setTrades(result.trades);
      box.current?.setAttribute('data-trades', String(result.trades.length));
      view.fit();
    };
    if (result.candles.length) show(result.candles);
    else if (dataset)
      datasetCandles(dataset, { signal: ctl.signal })
        .then(({ candles }) => show(candles))
        .catch((err) => err.name !== 'AbortError' && setMissing(true));
    else setMissing(true);
    return () => {
      ctl.abort();
      view.destroy();
    };
  }, [dataset, result]);
  return (
    <>
      {missing && (
        <p className="muted" data-testid="backtest-chart-missing">
          The server cannot send the candles of this data, so the trades are listed below without a chart.
        </p>
      )}
      <div className="chart" ref={box} data-testid="backtest-chart" style={missing ? { display: 'none' } : undefined} />
    </>
  );
}

export default function Backtests({ datasets, onRefresh, onTrades }) {
  const [strategies, setStrategies] = useState([]);
  const [loadError, setLoadError] = useState('');
  const [chosenData, setChosenData] = useState([]);
  const [chosen, setChosen] = useState({}); // strategy name -> {on, values}
  const [running, setRunning] = useState(false);
  const [startedAt, setStartedAt] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [done, setDone] = useState(0);
  const [results, setResults] = useState([]);
  const [shown, setShown] = useState(0);

  useEffect(() => {
    onRefresh?.();
    getFirst(['/api/strategies', '/api/backtests/strategies'])
      .then((body) => {
        const list = readStrategies(body);
        setStrategies(list);
        const init = {};
        list.forEach((s, i) => {
          const values = {};
          s.params.forEach((f) => (values[f.name] = f.default ?? ''));
          init[s.name] = { on: i === 0, values };
        });
        setChosen(init);
      })
      .catch((err) => setLoadError(err.message));
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!chosenData.length && datasets.length) setChosenData([datasets[0].id]);
  }, [datasets]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!running) return undefined;
    const t = setInterval(() => setNow(Date.now()), 200);
    return () => clearInterval(t);
  }, [running]);

  const picked = strategies.filter((s) => chosen[s.name]?.on);

  const run = async () => {
    if (!chosenData.length || !picked.length) return;
    setRunning(true);
    setStartedAt(Date.now());
    setDone(0);
    setResults([]);
    setShown(0);
    const out = [];
    let n = 0;
    for (const s of picked) {
      const params = paramValues(s.params, chosen[s.name].values);
      const request = { datasets: chosenData, strategy: s.name, params };
      try {
        const body = await postJson('/api/backtests', request);
        for (const result of readBacktestRuns(body)) {
          const key = `${s.name} · ${result.datasetLabel || result.dataset}`;
          out.push({ key, strategy: s.name, request, dataset: result.dataset || chosenData[0], result });
        }
      } catch (err) {
        out.push({ key: s.name, strategy: s.name, request, dataset: chosenData[0], error: err.message });
      }
      n += 1;
      setDone(n);
      setResults([...out]);
    }
    setRunning(false);
  };

  const metricNames = [
    ...new Set(results.flatMap((r) => (r.result ? Object.keys(scalarMetrics(r.result.metrics)) : []))),
  ];
  const current = results[shown];
  // The trades shown here are also drawn on the dataset's candles in the chart page's CSV mode.
  useEffect(() => {
    if (onTrades && current?.result) onTrades({ dataset: current.dataset, trades: current.result.trades });
  }, [current]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <main className="backtests">
      <section className="bt-form">
        <h2>1. Data</h2>
        {!datasets.length && <p className="muted">No collected data yet. Let QuantumFlux run for a while first.</p>}
        <div className="checklist" data-testid="backtest-datasets">
          {datasets.map((d) => (
            <label key={d.id}>
              <input
                type="checkbox"
                value={d.id}
                checked={chosenData.includes(d.id)}
                onChange={(e) =>
                  setChosenData(e.target.checked ? [...chosenData, d.id] : chosenData.filter((x) => x !== d.id))
                }
              />{' '}
              {d.asset}, {words(d.timeframe)}
              {d.rows ? ` (${d.rows} candles)` : ''}
            </label>
          ))}
        </div>
        <h2>2. Strategies</h2>
        {loadError && <p className="panel-error">Could not get the strategies: {loadError}</p>}
        {strategies.map((s) => (
          <fieldset key={s.name} data-testid={`strategy-${s.name}`}>
            <legend>
              <label>
                <input
                  type="checkbox"
                  data-testid={`strategy-pick-${s.name}`}
                  checked={Boolean(chosen[s.name]?.on)}
                  onChange={(e) => setChosen({ ...chosen, [s.name]: { ...chosen[s.name], on: e.target.checked } })}
                />{' '}
                {s.title}
              </label>
            </legend>
            {s.description && <p className="muted">{s.description}</p>}
            {chosen[s.name]?.on &&
              s.params.map((f) => (
                <label key={f.name} className="param">
                  {f.title}{' '}
                  <Field
                    field={f}
                    value={chosen[s.name].values[f.name]}
                    onChange={(v) =>
                      setChosen({
                        ...chosen,
                        [s.name]: { ...chosen[s.name], values: { ...chosen[s.name].values, [f.name]: v } },
                      })
                    }
                  />
                </label>
              ))}
          </fieldset>
        ))}
        <button
          className="run"
          data-testid="backtest-run"
          disabled={running || !chosenData.length || !picked.length}
          onClick={run}
        >
          {running ? 'Running…' : 'Run backtest'}
        </button>
        {running && (
          <div className="progress" data-testid="backtest-progress">
            <div className="bar" style={{ width: `${Math.max(5, (100 * done) / Math.max(1, picked.length))}%` }} />
            <span>
              {done} of {picked.length} done, {((now - startedAt) / 1000).toFixed(1)} s
            </span>
          </div>
        )}
      </section>

      {results.length > 0 && (
        <section className="bt-results">
          <h2>Results</h2>
          <table data-testid="backtest-metrics" data-state={running ? 'running' : 'done'}>
            <thead>
              <tr>
                <th>Measure</th>
                {results.map((r) => (
                  <th key={r.key}>{r.key}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {results.some((r) => r.error) && (
                <tr>
                  <td>Problem</td>
                  {results.map((r) => (
                    <td key={r.key} className="panel-error" data-testid="backtest-error">
                      {r.error || ''}
                    </td>
                  ))}
                </tr>
              )}
              {metricNames.map((m) => (
                <tr key={m}>
                  <td>{m.replace(/_/g, ' ')}</td>
                  {results.map((r) => {
                    const v = r.result?.metrics[m];
                    return (
                      <td
                        key={r.key}
                        data-metric={m}
                        data-strategy={r.strategy}
                        data-dataset={r.dataset}
                        data-value={JSON.stringify(v ?? null)}
                      >
                        {fmt(v)}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Money over time</h3>
          <EquityChart results={results} />
          {current?.result && (
            <>
              <h3>
                Trades of{' '}
                <select value={shown} onChange={(e) => setShown(Number(e.target.value))}>
                  {results.map((r, i) => (
                    <option key={r.key} value={i}>
                      {r.key}
                    </option>
                  ))}
                </select>{' '}
                on the chart
              </h3>
              <TradeChart dataset={datasets.find((d) => d.id === current.dataset)} result={current.result} />
              <table className="trades" data-testid="backtest-trades">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>Opened</th>
                    <th>Direction</th>
                    <th>Result</th>
                    <th>Details</th>
                  </tr>
                </thead>
                <tbody>
                  {current.result.trades.slice(0, 500).map((t, i) => (
                    <tr key={i}>
                      <td>{i + 1}</td>
                      <td>{new Date(t.time * 1000).toISOString().replace('T', ' ').slice(0, 19)}</td>
                      <td>{t.direction || '—'}</td>
                      <td>{t.won === true ? 'won' : t.won === false ? 'lost' : '—'}</td>
                      <td className="muted">
                        {Object.entries(t)
                          .filter(([k]) => !['time', 'exitTime', 'direction', 'won', 'entry_time', 'expiry_time'].includes(k))
                          .map(([k, v]) => `${k}: ${fmt(v)}`)
                          .join(', ')}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {current.result.trades.length > 500 && (
                <p className="muted">Showing the first 500 of {current.result.trades.length} trades.</p>
              )}
            </>
          )}
        </section>
      )}
    </main>
  );
}
