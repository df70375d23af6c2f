// The result page's plots: money over time for each run, the grid as a heat map, the walk-forward
// windows and the Monte Carlo spread. Plain SVG where a chart library would add nothing.

import { useEffect, useRef, useState } from 'react';
import { LineSeries, createChart } from 'lightweight-charts';
import { heatCells, heatScale, percentiles, walkForwardBars } from '../data/backtests.js';
import { CHART_OPTIONS } from './TradeChart.jsx';

export const LINE_COLORS = ['#4aa3ff', '#f5a623', '#26a69a', '#ef5350', '#9c7bd8', '#e0c341'];

function fmt(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
}

/** Every run's balance over time on one chart, one colour per run. */
export function EquityChart({ runs }) {
  const box = useRef(null);
  useEffect(() => {
    const chart = createChart(box.current, CHART_OPTIONS);
    runs.forEach((r, i) => {
      if (!r.result) return;
      const s = chart.addSeries(LineSeries, { color: LINE_COLORS[i % LINE_COLORS.length], lineWidth: 2, title: r.key });
      s.setData(r.result.equity);
    });
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [runs]);
  return <div className="equity" ref={box} data-testid="equity-chart" />;
}

const CELL = 34;
const LEFT = 60;
const TOP = 10;

function HeatSvg({ hm, scale, onPick }) {
  const width = LEFT + CELL * hm.xs.length + 10;
  const height = TOP + CELL * hm.ys.length + 40;
  const mid = TOP + (CELL * hm.ys.length) / 2;
  const row = (yi) => TOP + (hm.ys.length - 1 - yi) * CELL;
  return (
    <svg width={width} height={height} role="img">
      {heatCells(hm).map((c) => (
        <rect
          key={`${c.xi}-${c.yi}`}
          data-testid="heat-cell"
          data-x={c.x}
          data-y={c.y}
          data-value={JSON.stringify(c.value)}
          x={LEFT + c.xi * CELL}
          y={row(c.yi)}
          width={CELL - 2}
          height={CELL - 2}
          fill={scale.color(c.value)}
          onMouseEnter={() => onPick({ [hm.x]: c.x, [hm.y]: c.y, value: c.value })}
          onClick={() => onPick({ [hm.x]: c.x, [hm.y]: c.y, value: c.value })}
        >
          <title>{`${hm.x} ${c.x}, ${hm.y} ${c.y}: ${fmt(c.value)}`}</title>
        </rect>
      ))}
      {hm.xs.map((x, i) => (
        <text key={`x${x}`} x={LEFT + i * CELL + CELL / 2} y={TOP + CELL * hm.ys.length + 14} textAnchor="middle" className="axis">
          {x}
        </text>
      ))}
      {hm.ys.map((y, i) => (
        <text key={`y${y}`} x={LEFT - 6} y={row(i) + CELL / 2 + 4} textAnchor="end" className="axis">
          {y}
        </text>
      ))}
      <text x={LEFT + (CELL * hm.xs.length) / 2} y={height - 4} textAnchor="middle" className="axis">
        {hm.x}
      </text>
      <text x={12} y={mid} textAnchor="middle" className="axis" transform={`rotate(-90 12 ${mid})`}>
        {hm.y}
      </text>
    </svg>
  );
}

/** Two swept settings against each other, each cell coloured by the ranking figure. */
export function HeatMap({ grid }) {
  const [picked, setPicked] = useState(null);
  const hm = grid?.heatmap;
  if (!hm) return null;
  const scale = heatScale(hm.values);
  const shown = picked ?? grid.best?.params;
  const metric = grid.metric.replace(/_/g, ' ');
  return (
    <div data-testid="backtest-heatmap">
      <h4>
        {metric} by {hm.x} and {hm.y} (from {fmt(scale.min)} red to {fmt(scale.max)} green)
      </h4>
      <HeatSvg hm={hm} scale={scale} onPick={setPicked} />
      <p data-testid="heat-point">
        {picked ? 'Point' : 'Best'}:{' '}
        {shown
          ? Object.entries(shown)
              .map(([k, v]) => `${k} ${fmt(v)}`)
              .join(', ')
          : '—'}
        {!picked && grid.best ? `, ${metric} ${fmt(grid.best.metrics?.[grid.metric])}` : ''}
      </p>
    </div>
  );
}

function Bars({ items, height = 160 }) {
  // items: [{label, values: [{v, color, title}]}], bars grouped per item around a zero line.
  const all = items.flatMap((it) => it.values.map((x) => x.v)).filter(Number.isFinite);
  const hi = Math.max(0, ...all);
  const lo = Math.min(0, ...all);
  const span = hi - lo || 1;
  const y = (v) => 10 + ((hi - v) / span) * (height - 30);
  const group = 14 * (items[0]?.values.length || 1) + 10;
  return (
    <svg width={40 + group * items.length} height={height} role="img">
      <line x1={30} x2={40 + group * items.length} y1={y(0)} y2={y(0)} stroke="#5b6b7d" />
      {items.map((it, i) =>
        it.values.map((x, k) => (
          <rect
            key={`${i}-${k}`}
            x={36 + i * group + k * 14}
            y={Math.min(y(0), y(x.v || 0))}
            width={12}
            height={Math.max(1, Math.abs(y(x.v || 0) - y(0)))}
            fill={x.color}
          >
            <title>{x.title}</title>
          </rect>
        )),
      )}
      {items.map((it, i) => (
        <text key={it.label} x={36 + i * group + group / 2 - 5} y={height - 4} textAnchor="middle" className="axis">
          {it.label}
        </text>
      ))}
    </svg>
  );
}

/** Each walk-forward window: the figure it was optimised to (in-sample) and what it then made. */
export function WalkForwardPlot({ wf }) {
  const bars = walkForwardBars(wf);
  if (!bars.length) return null;
  const metric = (wf.metric || 'net_profit').replace(/_/g, ' ');
  return (
    <div data-testid="backtest-walk-forward" data-windows={bars.length}>
      <h4>
        Walk-forward {metric} per window: <span style={{ color: '#4aa3ff' }}>in-sample</span>,{' '}
        <span style={{ color: '#f5a623' }}>out-of-sample</span>
      </h4>
      <Bars
        items={bars.map((b) => ({
          label: String(b.n),
          values: [
            { v: b.inSample, color: '#4aa3ff', title: `window ${b.n} in-sample: ${fmt(b.inSample)}` },
            { v: b.outOfSample, color: '#f5a623', title: `window ${b.n} out-of-sample: ${fmt(b.outOfSample)}` },
          ],
        }))}
      />
    </div>
  );
}

/**
 * The Monte Carlo spread, percentile by percentile: the profit at the end (final balance less the
 * starting one, so a spread of a few units is not lost against a balance of a thousand) and the
 * largest drawdown, each on its own scale.
 */
export function MonteCarloPlot({ mc, start }) {
  if (!mc) return null;
  const base = Number.isFinite(start) ? start : 0;
  const profits = percentiles(mc.final_balance).map((f) => ({ p: f.p, value: f.value - base }));
  const dds = percentiles(mc.max_drawdown);
  const plot = (rows, color, what) =>
    rows.map((r) => ({
      label: `p${r.p}`,
      values: [{ v: r.value, color, title: `${what}, percentile ${r.p}: ${fmt(r.value)}` }],
    }));
  return (
    <div data-testid="backtest-monte-carlo" data-runs={mc.runs}>
      <h4>
        Monte Carlo: {mc.runs} shuffles of {mc.trades} trades; odds of losing {Math.round((1 - mc.ruin_level) * 100)}% of the
        money: {fmt(100 * mc.ruin_probability)}%
      </h4>
      <div className="bt-plots">
        <figure>
          <Bars items={plot(profits, '#26a69a', 'profit at the end')} />
          <figcaption className="muted">
            Profit at the end: {profits.map((r) => `p${r.p} ${fmt(r.value)}`).join(', ')}
          </figcaption>
        </figure>
        <figure>
          <Bars items={plot(dds, '#ef5350', 'largest drawdown')} />
          <figcaption className="muted">
            Largest drawdown: {dds.map((r) => `p${r.p} ${fmt(r.value)}`).join(', ')}
          </figcaption>
        </figure>
      </div>
    </div>
  );
}
