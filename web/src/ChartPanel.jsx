// One chart with its own pickers and, in Platform mode, its own live stream.

import { useEffect, useRef, useState } from 'react';
import { ChartView } from './ChartView.js';
import { connect } from './gateway.js';
import { datasetCandles } from './api.js';
import HistoryControl from './HistoryControl.jsx';
import { when } from './history.js';
import { useHistory } from './useHistory.js';
import { mergeHistory } from './data/candles.js';
import { exposeSeries } from './probe.js';
import { label, toSeconds, words } from './data/timeframes.js';
import { addSignal, dealMarkers, onChart, paperMarkers, signalMarkers } from './data/trading.js';
import { orderDealIds, orderMarkers } from './data/orders.js';

function tid(name, index) {
  return index === 0 ? name : `${name}-${index + 1}`;
}

function formatPrice(v) {
  return v === null || v === undefined ? '—' : String(v);
}

/** Whether a message from the server is about the stream this chart shows. */
function sameStream(msg, asset, timeframe) {
  if (!msg || msg.asset !== asset) return false;
  const tf = toSeconds(msg.timeframe ?? msg.tf ?? msg.period);
  return tf === timeframe;
}

export default function ChartPanel({
  index,
  provider,
  assets,
  timeframes,
  datasets,
  indicators,
  live,
  notLive,
  platform,
  follow,
  initial,
  paper = [],
  deals = [],
  orders = [],
  trades = null,
}) {
  const box = useRef(null);
  const view = useRef(null);
  const socket = useRef(null);
  const [asset, setAsset] = useState(initial?.asset || '');
  const [timeframe, setTimeframe] = useState(initial?.timeframe || 60);
  const [price, setPrice] = useState(null);
  const [count, setCount] = useState(0);
  const [incomplete, setIncomplete] = useState(false);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  const [note, setNote] = useState('');
  const [signals, setSignals] = useState([]);
  const [shownMarkers, setShownMarkers] = useState('[]');
  const want = useRef({ asset, timeframe });
  want.current = { asset, timeframe };
  // Ask for a stream only once the server has said it has that asset and timeframe.
  const valid = useRef(false);
  const followRef = useRef(follow);
  followRef.current = follow;

  // What can be picked depends on the provider: live assets or collected datasets.
  const csv = provider === 'csv';
  const history = useHistory(view, want, csv, setCount);
  const assetChoices = csv
    ? [...new Set(datasets.map((d) => d.asset))].sort().map((a) => ({ asset: a, label: a.replace(/_otc$/i, ' (OTC)') }))
    : assets;
  const tfChoices = csv
    ? [...new Set(datasets.filter((d) => d.asset === asset).map((d) => d.timeframe))].sort((a, b) => a - b)
    : timeframes;

  // Keep the choice valid for the provider: never show an asset or timeframe it does not have.
  useEffect(() => {
    if (assetChoices.length && !assetChoices.some((a) => a.asset === asset)) {
      const preferred = !csv && platform?.asset && assetChoices.find((a) => a.asset === platform.asset);
      setAsset(preferred ? preferred.asset : assetChoices[Math.min(index, assetChoices.length - 1)].asset);
    }
    if (!assetChoices.length && asset) setAsset('');
  }, [assetChoices.map((a) => a.asset).join(','), csv]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (tfChoices.length && !tfChoices.includes(timeframe)) {
      setTimeframe(tfChoices.includes(60) ? 60 : tfChoices[0]);
    }
  }, [tfChoices.join(','), csv]); // eslint-disable-line react-hooks/exhaustive-deps

  // Follow PocketOption: the first chart takes the asset and timeframe picked there.
  useEffect(() => {
    if (!follow || csv || !platform?.asset) return;
    if (assets.some((a) => a.asset === platform.asset)) setAsset(platform.asset);
    const tf = toSeconds(platform.period ?? platform.timeframe);
    if (tf && timeframes.includes(tf)) setTimeframe(tf);
  }, [follow, csv, platform?.asset, platform?.period, platform?.timeframe, assets, timeframes]);

  // The chart lives as long as the panel.
  useEffect(() => {
    view.current = new ChartView(box.current, {
      onNeedOlder: (before, reveal) => history.loadOlder.current(before, reveal),
      onLastPrice: (close, last) => {
        setPrice(close);
        setCount(view.current ? view.current.candles.length : 0);
        setIncomplete(Boolean(view.current?.incomplete));
        if (last) box.current?.setAttribute('data-last-time', String(last.time));
      },
      // What is drawn, for tests and tools (the markers themselves are on a canvas).
      onMarkers: (drawn) => setShownMarkers(JSON.stringify(drawn.map((m) => ({ kind: m.kind, time: m.time, text: m.text })))),
    });
    view.current.setIndicators(indicators);
    // Tests compare what the chart itself holds with what was sent (only on a ?probe=1 page).
    const withdraw = exposeSeries(tid('chart', index), view.current.series);
    return () => {
      withdraw();
      view.current.destroy();
      view.current = null;
    };
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    view.current?.setIndicators(indicators);
  }, [indicators]);

  // Platform: one socket per chart; its stream follows the pickers and survives reconnects.
  useEffect(() => {
    if (csv) return undefined;
    const s = connect();
    socket.current = s;
    const start = () => {
      const { asset: a, timeframe: tf } = want.current;
      if (a && tf && valid.current) s.emit('start_stream', { asset: a, timeframe: label(tf) });
    };
    // Following PocketOption, the server moves this chart's stream by itself and says so.
    s.on('asset_changed', (msg) => {
      if (!followRef.current || !msg?.asset) return;
      const tf = toSeconds((msg.timeframes || [])[0]) || want.current.timeframe;
      want.current = { asset: msg.asset, timeframe: tf };
      setAsset(msg.asset);
      setTimeframe(tf);
    });
    s.on('connect', () => {
      if (index === 0) s.emit('follow_platform', { enabled: Boolean(followRef.current) });
      start();
    });
    s.on('history', (msg) => {
      const { asset: a, timeframe: tf } = want.current;
      if (!sameStream(msg, a, tf)) return;
      view.current.setCandles(mergeHistory(view.current.candles, msg.candles || []));
    });
    s.on('candle_update', (msg) => {
      const { asset: a, timeframe: tf } = want.current;
      if (sameStream(msg, a, tf)) view.current.push(msg);
    });
    s.on('signal', (msg) => {
      const { asset: a, timeframe: tf } = want.current;
      if (sameStream(msg, a, tf)) setSignals((old) => addSignal(old, msg));
    });
    s.on('backfill_progress', (msg) => history.onProgress.current(msg));
    s.on('stream_started', () => setError(''));
    s.on('stream_error', (msg) => setError((msg && (msg.message || msg.code)) || 'The stream stopped with an error.'));
    return () => {
      s.removeAllListeners();
      s.disconnect();
      socket.current = null;
    };
  }, [csv]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (index === 0 && socket.current?.connected) socket.current.emit('follow_platform', { enabled: Boolean(follow) });
  }, [follow, index]);

  const isValid = assetChoices.some((a) => a.asset === asset) && tfChoices.includes(timeframe);
  valid.current = isValid;

  // Signals, paper trades, the trader's orders and the user's deals of what this chart shows, as
  // markers. A deal the trader placed is drawn once, as its order.
  useEffect(() => {
    if (!view.current) return;
    const mine = paper.filter((p) => onChart(p, asset, timeframe));
    const placed = orderDealIds(orders);
    const markers = [
      ...(csv ? [] : signalMarkers(signals)),
      ...paperMarkers(mine),
      ...orderMarkers(orders, asset),
      ...dealMarkers(deals.filter((d) => d.asset === asset && !placed.has(String(d.id)))),
    ];
    view.current.setLiveMarkers(markers);
  }, [signals, paper, deals, orders, asset, timeframe, csv]);

  // In CSV mode, the trades of the last backtest on this dataset are drawn on its candles.
  const dsId = csv ? datasets.find((d) => d.asset === asset && d.timeframe === timeframe)?.id : undefined;
  const shownTrades = trades && dsId && trades.dataset === dsId ? trades.trades : null;
  useEffect(() => {
    if (view.current && csv && !loading) view.current.setTrades(shownTrades || []);
  }, [shownTrades, csv, loading]);

  // A new asset or timeframe: clear the chart and ask for the new stream (or dataset).
  useEffect(() => {
    if (!view.current) return undefined;
    setSignals([]);
    view.current.setCandles([]);
    setError('');
    history.reset();
    if (!isValid) return undefined;
    if (!csv) {
      if (socket.current?.connected) {
        // One stream per chart: leave the old one before joining the new one.
        socket.current.emit('stop_stream', {});
        socket.current.emit('start_stream', { asset, timeframe: label(timeframe) });
      }
      return undefined;
    }
    const ds = datasets.find((d) => d.asset === asset && d.timeframe === timeframe);
    if (!ds) return undefined;
    const ctl = new AbortController();
    setLoading(true);
    setNote('');
    datasetCandles(ds, { signal: ctl.signal })
      .then(({ candles, fallback }) => {
        view.current.setCandles(candles);
        view.current.fit();
        if (fallback) setNote('The server cannot send this file yet; showing the recent candles it keeps for it.');
      })
      .catch((err) => err.name !== 'AbortError' && setError(`Could not load this data: ${err.message}`))
      .finally(() => setLoading(false));
    return () => ctl.abort();
  }, [asset, timeframe, csv, datasets, isValid]); // eslint-disable-line react-hooks/exhaustive-deps

  const followLocked = index === 0 && follow && !csv;
  const showLive = !csv && live;
  return (
    <section className="panel" data-testid={tid('chart-panel', index)}>
      <div className="panel-bar">
        <label>
          Asset{' '}
          <select
            data-testid={tid('asset-select', index)}
            value={asset}
            disabled={followLocked || !assetChoices.length}
            onChange={(e) => setAsset(e.target.value)}
          >
            {!assetChoices.length && <option value="">{csv ? 'No data collected yet' : 'Waiting for assets…'}</option>}
            {assetChoices.map((a) => (
              <option key={a.asset} value={a.asset}>
                {a.label || a.asset}
              </option>
            ))}
          </select>
        </label>
        <label>
          Candle size{' '}
          <select
            data-testid={tid('timeframe-select', index)}
            value={timeframe}
            disabled={followLocked || !tfChoices.length}
            onChange={(e) => setTimeframe(Number(e.target.value))}
          >
            {!tfChoices.length && <option value="">{csv ? '—' : 'Waiting…'}</option>}
            {tfChoices.map((tf) => (
              <option key={tf} value={tf}>
                {words(tf)}
              </option>
            ))}
          </select>
        </label>
        <span className="price">
          Last price:{' '}
          <b data-testid={tid('last-price', index)} data-value={price ?? ''} data-asset={asset} data-timeframe={timeframe}>
            {formatPrice(price)}
          </b>
        </span>
        <span className="muted" data-testid={tid('candle-count', index)}>
          {count} candles
        </span>
        {incomplete && (
          <span className="muted legend" data-testid={tid('incomplete-note', index)}>
            <i className="swatch faded" /> faded: capture had a gap, the candle may miss ticks
          </span>
        )}
        {!csv && (
          <HistoryControl
            tid={(name) => tid(name, index)}
            progress={history.progress}
            refusal={history.refusal}
            disabled={!isValid}
            onStart={history.getHistory}
          />
        )}
        {history.start !== null && (
          <span className="muted" data-testid={tid('history-start', index)} data-time={history.start}>
            History starts {when(history.start)} UTC
          </span>
        )}
        {csv ? (
          <span className="badge csv">Collected data{loading ? ' (loading…)' : ''}</span>
        ) : showLive ? (
          <span className="badge live" data-testid={tid('live-badge', index)} data-live="true">
            Live
          </span>
        ) : (
          <span className="badge off" data-testid={tid('live-badge', index)} data-live="false" title={notLive}>
            Not live
          </span>
        )}
      </div>
      {csv && note && (
        <div className="muted" data-testid={tid('data-note', index)}>
          {note}
        </div>
      )}
      {error && (
        <div className="panel-error" data-testid={tid('stream-error', index)}>
          {error}
        </div>
      )}
      <div
        className="chart"
        ref={box}
        data-testid={tid('chart', index)}
        data-asset={asset}
        data-timeframe={timeframe}
        data-markers={shownMarkers}
        data-trades={shownTrades ? shownTrades.length : 0}
      />
    </section>
  );
}
