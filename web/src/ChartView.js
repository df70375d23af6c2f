// The chart itself, driven imperatively: React never re-renders per tick, updates are coalesced
// to one per display frame and given to lightweight-charts as single-candle updates.

import {
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  createChart,
  createSeriesMarkers,
} from 'lightweight-charts';
import { applyUpdate, lastClose, readCandle, readCandles } from './data/candles.js';
import { Coalescer } from './data/coalesce.js';
import { bollinger, ema, macd, rsi, sma } from './data/indicators.js';
import { keptRange, prependOlder } from './history.js';

// The chart's own data layer slows down with the number of points it holds (about 4 ms per
// update at 50 000 candles here), so it is given the newest WINDOW candles and more are handed
// over, CHUNK at a time, only when the user scrolls back to the left edge.
export const WINDOW = 5000;
const CHUNK = 5000;
// Indicators are recomputed over this many newest candles per update; for the recursive ones
// (EMA, RSI, MACD) the start-up error has decayed to nothing long before that.
const TAIL = 1000;

const COLORS = { up: '#26a69a', down: '#ef5350', sma: '#f5a623', ema: '#4aa3ff', bb: '#9c7bd8' };

export const NO_INDICATORS = { sma: false, ema: false, bollinger: false, rsi: false, macd: false };

export class ChartView {
  /**
   * @param {HTMLElement} container
   * @param {{onLastPrice?: (close: number|null, candle: object|null) => void, schedule?: Function,
   *   onNeedOlder?: (before: number, reveal: boolean) => void}} opts  onNeedOlder: the user reached the left edge of
   *   everything held; answer with prependOlder (or olderFailed).
   */
  constructor(container, opts = {}) {
    this.onLastPrice = opts.onLastPrice || (() => {});
    this.chart = createChart(container, {
      autoSize: true,
      layout: { background: { color: '#10151c' }, textColor: '#c9d1d9', panes: { separatorColor: '#2a3340' } },
      grid: { vertLines: { color: '#1b2330' }, horzLines: { color: '#1b2330' } },
      timeScale: { timeVisible: true, secondsVisible: true, rightOffset: 4 },
      rightPriceScale: { borderColor: '#2a3340' },
    });
    this.series = this.chart.addSeries(CandlestickSeries, {
      upColor: COLORS.up,
      downColor: COLORS.down,
      borderVisible: false,
      wickUpColor: COLORS.up,
      wickDownColor: COLORS.down,
      priceFormat: { type: 'price', precision: 5, minMove: 0.00001 },
    });
    this.markers = createSeriesMarkers(this.series, []);
    this.tradeMarkers = []; // backtest trades
    this.liveMarkers = []; // signals, paper trades and the user's deals: {time, ...marker}
    this.onMarkers = opts.onMarkers || (() => {});
    this.onNeedOlder = opts.onNeedOlder || null;
    this.askingOlder = false; // one request for older candles at a time
    this.historyEnded = false; // the server has nothing older than the first candle
    this.candles = [];
    this.incomplete = false; // whether a candle with a gap in capture was shown (for the legend)
    this.windowFrom = 0; // index in this.candles of the first candle the chart holds
    this.window = opts.window || WINDOW;
    this.indicators = { ...NO_INDICATORS };
    this.lines = {};
    this.frames = 0;
    const schedule = opts.schedule || ((fn) => requestAnimationFrame(fn));
    this.coalescer = new Coalescer((batch) => this.applyBatch(batch), schedule);
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (!range || range.from >= 20) return;
      if (this.windowFrom > 0) this.extendWindow();
      else this.askOlder();
    });
  }

  /** The candles the chart holds (the newest ones, from windowFrom on). */
  shown() {
    return this.windowFrom === 0 ? this.candles : this.candles.slice(this.windowFrom);
  }

  extendWindow() {
    this.windowFrom = Math.max(0, this.windowFrom - CHUNK);
    this.series.setData(this.shown());
    this.refreshIndicators();
  }

  /** Ask for the candles before the first one held, unless asked already or there are none. */
  askOlder(reveal = false) {
    if (!this.onNeedOlder || this.askingOlder || this.historyEnded || !this.candles.length) return;
    this.askingOlder = true;
    this.onNeedOlder(this.candles[0].time, reveal);
  }

  /**
   * Put older candles before the held ones, keeping what is in sight; `ended` when the server has
   * nothing older. `reveal` scrolls to the oldest of them instead (after a backfill).
   */
  prependOlder(rows, { ended = false, reveal = false } = {}) {
    this.askingOlder = false;
    this.historyEnded = ended;
    const range = this.chart.timeScale().getVisibleLogicalRange();
    const { candles, added } = prependOlder(this.candles, rows);
    if (!added) return 0;
    this.candles = candles;
    this.windowFrom = 0;
    this.series.setData(this.candles);
    const width = range ? range.to - range.from : 100;
    this.chart.timeScale().setVisibleLogicalRange(reveal ? { from: 0, to: width } : keptRange(range, added));
    this.refreshIndicators();
    if (this.liveMarkers.length || this.tradeMarkers.length) this.applyMarkers();
    return added;
  }

  /** A request for older candles failed: it may be asked again on the next scroll. */
  olderFailed() {
    this.askingOlder = false;
  }

  /** History may reach further back now (a backfill finished): ask again at the left edge. */
  reopenHistory() {
    this.historyEnded = false;
    this.askingOlder = false; // an answer still on its way is dropped: the first candle changes
  }

  /** Show a whole candle list (history or a dataset); live updates queued before are dropped. */
  setCandles(rows) {
    this.coalescer.clear();
    const before = this.candles.length ? this.candles[0].time : null;
    this.candles = readCandles(rows);
    if (!this.candles.length || this.candles[0].time !== before) {
      // Another series (or a new start): what was known of its history no longer holds.
      this.historyEnded = false;
      this.askingOlder = false;
    }
    this.incomplete = this.candles.some((c) => c.complete === false);
    this.windowFrom = Math.max(0, this.candles.length - this.window);
    this.series.setData(this.shown());
    this.refreshIndicators();
    this.reportLast();
    if (this.liveMarkers.length) this.applyMarkers();
  }

  /** Queue one live candle; it reaches the chart on the next frame. */
  push(raw) {
    const c = readCandle(raw);
    if (c) this.coalescer.push(c);
  }

  /** Apply a batch of coalesced candles now. */
  applyBatch(batch) {
    let redraw = false;
    for (const c of batch) {
      if (c.complete === false) this.incomplete = true;
      const what = applyUpdate(this.candles, c);
      if (what === 'append' || what === 'update') {
        if (!redraw) this.series.update(this.candles[this.candles.length - 1]);
      } else if (what === 'insert') {
        redraw = true;
      }
    }
    if (redraw) this.series.setData(this.shown());
    // A marker waiting for its candle (a signal of the candle that just closed) can now be drawn.
    if (this.liveMarkers.length && this.liveMarkers.some((m) => m.drawn !== true)) this.applyMarkers();
    this.updateIndicatorTails(redraw);
    this.frames += 1;
    this.reportLast();
  }

  reportLast() {
    const last = this.candles.length ? this.candles[this.candles.length - 1] : null;
    this.onLastPrice(lastClose(this.candles), last);
  }

  /** Which indicators to draw: {sma, ema, bollinger, rsi, macd} booleans. */
  setIndicators(flags) {
    this.indicators = { ...NO_INDICATORS, ...flags };
    for (const s of Object.values(this.lines)) this.chart.removeSeries(s);
    this.lines = {};
    // Panes left empty by removed RSI/MACD series go away with them.
    while (this.chart.panes().length > 1) this.chart.removePane(this.chart.panes().length - 1);
    const line = (color, pane = 0, extra = {}) =>
      this.chart.addSeries(
        LineSeries,
        { color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, ...extra },
        pane,
      );
    let pane = 1;
    if (this.indicators.sma) this.lines.sma = line(COLORS.sma);
    if (this.indicators.ema) this.lines.ema = line(COLORS.ema);
    if (this.indicators.bollinger) {
      this.lines.bbUpper = line(COLORS.bb);
      this.lines.bbMiddle = line(COLORS.bb, 0, { lineStyle: 2 });
      this.lines.bbLower = line(COLORS.bb);
    }
    if (this.indicators.rsi) {
      this.lines.rsi = line('#e0c341', pane, { lastValueVisible: true });
      pane += 1;
    }
    if (this.indicators.macd) {
      // MACD values are price differences: as many decimals as the prices.
      const fine = { priceFormat: { type: 'price', precision: 6, minMove: 0.000001 } };
      this.lines.macd = line('#4aa3ff', pane, fine);
      this.lines.macdSignal = line('#f5a623', pane, fine);
      this.lines.macdHist = this.chart.addSeries(
        HistogramSeries,
        { color: '#5b6b7d', priceLineVisible: false, ...fine },
        pane,
      );
    }
    for (const p of this.chart.panes().slice(1)) p.setHeight(110);
    this.refreshIndicators();
  }

  computeIndicators(candles) {
    const out = {};
    const i = this.indicators;
    if (i.sma) out.sma = sma(candles, 20);
    if (i.ema) out.ema = ema(candles, 50);
    if (i.bollinger) {
      const b = bollinger(candles, 20, 2);
      out.bbUpper = b.upper;
      out.bbMiddle = b.middle;
      out.bbLower = b.lower;
    }
    if (i.rsi) out.rsi = rsi(candles, 14);
    if (i.macd) {
      const m = macd(candles);
      out.macd = m.macd;
      out.macdSignal = m.signal;
      out.macdHist = m.histogram.map((p) => ({ ...p, color: p.value >= 0 ? '#26a69a88' : '#ef535088' }));
    }
    return out;
  }

  refreshIndicators() {
    if (!Object.keys(this.lines).length) return;
    // Computed from further back than the window so the first shown values are settled.
    const from = Math.max(0, this.windowFrom - TAIL);
    const first = this.windowFrom < this.candles.length ? this.candles[this.windowFrom].time : Infinity;
    const all = this.computeIndicators(this.candles.slice(from));
    const data = Object.fromEntries(Object.entries(all).map(([k, pts]) => [k, pts.filter((p) => p.time >= first)]));
    for (const [k, s] of Object.entries(this.lines)) s.setData(data[k] || []);
  }

  updateIndicatorTails(full) {
    if (!Object.keys(this.lines).length) return;
    if (full) return this.refreshIndicators();
    // Recursive indicators (EMA, RSI, MACD) need the whole past; computing it is cheap next to
    // drawing, so compute all and hand the chart only the newest point.
    const data = this.computeIndicators(this.candles.slice(-TAIL));
    for (const [k, s] of Object.entries(this.lines)) {
      const pts = data[k];
      if (pts && pts.length) s.update(pts[pts.length - 1]);
    }
  }

  /** Trade markers from a backtest: arrows at entry, coloured by outcome. */
  setTrades(trades) {
    // Markers need their candles on the chart: hand over everything from the first trade on.
    const firstTrade = Math.min(...trades.map((t) => t.time ?? Infinity));
    if (Number.isFinite(firstTrade) && this.windowFrom > 0 && firstTrade < this.candles[this.windowFrom].time) {
      this.windowFrom = 0;
      this.series.setData(this.candles);
      this.refreshIndicators();
    }
    const times = new Set(this.candles.map((c) => c.time));
    const markers = trades
      .filter((t) => t.time != null)
      .map((t) => {
        const up = /call|buy|up|long|higher/.test(t.direction);
        // Snap to a candle time so the marker is drawn even between candles.
        const time = times.has(t.time) ? t.time : this.snap(t.time);
        return {
          time,
          position: up ? 'belowBar' : 'aboveBar',
          shape: up ? 'arrowUp' : 'arrowDown',
          color: t.won === true ? COLORS.up : t.won === false ? COLORS.down : '#c9d1d9',
          text: up ? 'Up' : 'Down',
        };
      })
      .filter((m) => m.time != null)
      .sort((a, b) => a.time - b.time);
    this.tradeMarkers = markers;
    this.applyMarkers();
  }

  /**
   * Markers of live trading: [{time, position, shape, color, text, kind}] (signals, paper trades,
   * the user's deals). Each is drawn on the candle its time falls in, once that candle is shown.
   */
  setLiveMarkers(list) {
    this.liveMarkers = list.map((m) => ({ ...m }));
    this.applyMarkers();
  }

  applyMarkers() {
    const cs = this.candles;
    const first = cs.length ? cs[this.windowFrom]?.time : null;
    // A time after the newest candle's end belongs to a candle not there yet.
    const end = cs.length > 1 ? 2 * cs[cs.length - 1].time - cs[cs.length - 2].time : Infinity;
    const live = [];
    for (const m of this.liveMarkers) {
      const time = first == null || m.time < first || m.time >= end ? null : this.snap(m.time);
      m.drawn = time != null;
      if (time != null) live.push({ time, position: m.position, shape: m.shape, color: m.color, text: m.text });
    }
    const all = [...this.tradeMarkers, ...live].sort((a, b) => a.time - b.time);
    this.markers.setMarkers(all);
    this.onMarkers(this.liveMarkers.filter((m) => m.drawn));
  }

  /** The open time of the candle that ``time`` falls in (the last one at or before it), or null. */
  snap(time) {
    const cs = this.candles;
    if (!cs.length || time < cs[0].time) return null;
    let lo = 0;
    let hi = cs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cs[mid].time <= time) lo = mid;
      else hi = mid - 1;
    }
    return cs[lo].time;
  }

  fit() {
    this.chart.timeScale().fitContent();
  }

  destroy() {
    this.coalescer.clear();
    this.chart.remove();
  }
}
