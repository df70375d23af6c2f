// The dataset's candles with every trade of one run drawn on them: arrows at the entries, dots at
// the expiries coloured by the result.

import { useEffect, useRef, useState } from 'react';
import { CandlestickSeries, createChart, createSeriesMarkers } from 'lightweight-charts';
import { datasetCandles } from '../api.js';
import { readCandles } from '../data/candles.js';
import { tradeMarkers } from '../data/backtests.js';
import { exposeMarkers, exposeSeries } from '../probe.js';

export const CHART_OPTIONS = {
  autoSize: true,
  layout: { background: { color: '#10151c' }, textColor: '#c9d1d9' },
  grid: { vertLines: { color: '#1b2330' }, horzLines: { color: '#1b2330' } },
  timeScale: { timeVisible: true },
};
const NAME = 'backtest-chart';

function draw(box, candles, trades) {
  const chart = createChart(box, { ...CHART_OPTIONS, timeScale: { ...CHART_OPTIONS.timeScale, secondsVisible: true } });
  const series = chart.addSeries(CandlestickSeries, {
    upColor: '#26a69a',
    downColor: '#ef5350',
    borderVisible: false,
    wickUpColor: '#26a69a',
    wickDownColor: '#ef5350',
    priceFormat: { type: 'price', precision: 5, minMove: 0.00001 },
  });
  series.setData(candles);
  const markers = tradeMarkers(
    trades,
    candles.map((c) => c.time),
  );
  const plugin = createSeriesMarkers(series, markers);
  chart.timeScale().fitContent();
  const withdraw = [exposeSeries(NAME, series), exposeMarkers(NAME, plugin, window, box)];
  return () => {
    withdraw.forEach((w) => w());
    chart.remove();
  };
}

/** `dataset`: {id, asset, timeframe}; `trades`: a run's trades as readBacktest gives them. */
export default function TradeChart({ dataset, trades }) {
  const box = useRef(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    setMissing(false);
    const ctl = new AbortController();
    let undo = () => {};
    if (!dataset?.id) {
      setMissing(true);
      return undefined;
    }
    datasetCandles(dataset, { signal: ctl.signal })
      .then(({ candles }) => {
        const rows = readCandles(candles);
        setMissing(!rows.length);
        if (ctl.signal.aborted || !rows.length || !box.current) return;
        undo = draw(box.current, rows, trades);
        box.current.setAttribute('data-trades', String(trades.length));
      })
      .catch((err) => err.name !== 'AbortError' && setMissing(true));
    return () => {
      ctl.abort();
      undo();
    };
  }, [dataset?.id, dataset?.asset, dataset?.timeframe, trades]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <>
      {missing && (
        <p className="muted" data-testid="backtest-chart-missing">
          The server cannot send the candles of this data, so the trades are listed below without a chart.
        </p>
      )}
      <div className="chart" ref={box} data-testid={NAME} style={missing ? { display: 'none' } : undefined} />
    </>
  );
}
