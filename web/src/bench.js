// Benchmark page (bench.html): a chart with many candles and a steady stream of live updates,
// measuring the time from an update's arrival to the end of the frame that paints it.
//
// Address parameters: candles (default 50000), rate (updates per second, default 20),
// seconds (default 10). The result is left in window.__bench for the driver to read.

import { ChartView } from './ChartView.js';

const q = new URLSearchParams(window.location.search);
const N = Number(q.get('candles') || 50000);
const RATE = Number(q.get('rate') || 20);
const SECONDS = Number(q.get('seconds') || 10);
const TF = 60;
// How many candles the chart itself holds (the app's default unless given).
const WINDOW = q.get('window') ? Number(q.get('window')) : undefined;

function randomWalk(n, seed = 7) {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out = [];
  let price = 1.1;
  const t0 = 1_700_000_000 - (1_700_000_000 % TF) - n * TF;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = open + (rnd() - 0.5) * 0.002;
    const high = Math.max(open, close) + rnd() * 0.0005;
    const low = Math.min(open, close) - rnd() * 0.0005;
    out.push({ time: t0 + i * TF, open, high, low, close });
    price = close;
  }
  return out;
}

const samples = []; // arrival -> the frame that draws it has been drawn
const work = []; // time the page spent on it: applying the update + drawing that frame
let waiting = []; // arrival times of updates not yet applied

// The app's own scheduling (next task) with probes around it: a frame callback registered before
// the chart's own (drawing starts) and one after it (drawing done).
const schedule = (fn) =>
  setTimeout(() => {
    const batch = waiting;
    waiting = [];
    let drawStart = 0;
    requestAnimationFrame(() => (drawStart = performance.now()));
    const t0 = performance.now();
    fn();
    const applyMs = performance.now() - t0;
    requestAnimationFrame(() => {
      const now = performance.now();
      for (const t of batch) samples.push(now - t);
      work.push(applyMs + (now - drawStart));
    });
  }, 0);

const longTasks = [];
try {
  new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration))).observe({
    type: 'longtask',
    buffered: true,
  });
} catch {
  /* not supported */
}

const view = new ChartView(document.getElementById('chart'), { schedule, window: WINDOW });
window.__view = view;
const candles = randomWalk(N);
const tLoad = performance.now();
view.setCandles(candles);
requestAnimationFrame(() => {
  const loadMs = performance.now() - tLoad;
  let last = { ...candles[candles.length - 1] };
  let sent = 0;
  const total = Math.round(RATE * SECONDS);
  const started = performance.now();
  // Updates arrive at random moments (as from a network), 1/RATE seconds apart on average.
  const next = () => setTimeout(tick, (0.5 + Math.random()) * (1000 / RATE));
  const tick = () => {
    // Every 10th update opens a new candle; the others move the forming one.
    if (sent % 10 === 9) {
      const p = last.close;
      last = { time: last.time + TF, open: p, high: p, low: p, close: p };
    }
    const close = last.close + (Math.random() - 0.5) * 0.0004;
    last = { ...last, close, high: Math.max(last.high, close), low: Math.min(last.low, close) };
    waiting.push(performance.now());
    view.push(last);
    sent += 1;
    if (sent < total) {
      next();
    } else {
      setTimeout(() => {
        const sorted = [...samples].sort((a, b) => a - b);
        const pct = (p, xs = sorted) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
        const w = [...work].sort((a, b) => a - b);
        window.__bench = {
          candles: N,
          rate: RATE,
          seconds: (performance.now() - started) / 1000,
          updates: sent,
          samples: sorted.length,
          p50: pct(50),
          p95: pct(95),
          max: sorted[sorted.length - 1],
          workP50: pct(50, w),
          workP95: pct(95, w),
          workMax: w[w.length - 1],
          loadMs,
          longTasks: longTasks.length,
          longestTask: longTasks.length ? Math.max(...longTasks) : 0,
          shown: view.candles.length,
        };
      }, 300);
    }
  };
  next();
});
