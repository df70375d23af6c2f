// Chart indicators over candle closes. Each returns [{time, value}] (or several such lists).

/** Simple moving average of the closes over `n` candles. */
export function sma(candles, n) {
  const out = [];
  let sum = 0;
  for (let i = 0; i < candles.length; i++) {
    sum += candles[i].close;
    if (i >= n) sum -= candles[i - n].close;
    if (i >= n - 1) out.push({ time: candles[i].time, value: sum / n });
  }
  return out;
}

function emaValues(values, n) {
  const k = 2 / (n + 1);
  const out = new Array(values.length).fill(null);
  if (values.length < n) return out;
  let prev = 0;
  for (let i = 0; i < n; i++) prev += values[i];
  prev /= n;
  out[n - 1] = prev;
  for (let i = n; i < values.length; i++) {
    prev = values[i] * k + prev * (1 - k);
    out[i] = prev;
  }
  return out;
}

/** Exponential moving average (seeded with the SMA of the first `n` closes). */
export function ema(candles, n) {
  const vals = emaValues(candles.map((c) => c.close), n);
  const out = [];
  vals.forEach((v, i) => v !== null && out.push({ time: candles[i].time, value: v }));
  return out;
}

/** Bollinger bands: SMA(n) ± k population standard deviations. */
export function bollinger(candles, n = 20, k = 2) {
  const upper = [];
  const middle = [];
  const lower = [];
  for (let i = n - 1; i < candles.length; i++) {
    let sum = 0;
    for (let j = i - n + 1; j <= i; j++) sum += candles[j].close;
    const mean = sum / n;
    let sq = 0;
    for (let j = i - n + 1; j <= i; j++) sq += (candles[j].close - mean) ** 2;
    const sd = Math.sqrt(sq / n);
    const time = candles[i].time;
    upper.push({ time, value: mean + k * sd });
    middle.push({ time, value: mean });
    lower.push({ time, value: mean - k * sd });
  }
  return { upper, middle, lower };
}

/** RSI with Wilder's smoothing over `n` candles (0..100). */
export function rsi(candles, n = 14) {
  const out = [];
  if (candles.length <= n) return out;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= n; i++) {
    const d = candles[i].close - candles[i - 1].close;
    if (d > 0) gain += d;
    else loss -= d;
  }
  gain /= n;
  loss /= n;
  const value = () => (loss === 0 ? 100 : 100 - 100 / (1 + gain / loss));
  out.push({ time: candles[n].time, value: value() });
  for (let i = n + 1; i < candles.length; i++) {
    const d = candles[i].close - candles[i - 1].close;
    gain = (gain * (n - 1) + Math.max(d, 0)) / n;
    loss = (loss * (n - 1) + Math.max(-d, 0)) / n;
    out.push({ time: candles[i].time, value: value() });
  }
  return out;
}

/** MACD line (EMA fast − EMA slow), its signal (EMA of MACD) and the histogram. */
export function macd(candles, fast = 12, slow = 26, signal = 9) {
  const closes = candles.map((c) => c.close);
  const f = emaValues(closes, fast);
  const s = emaValues(closes, slow);
  const line = [];
  for (let i = 0; i < candles.length; i++) {
    if (f[i] !== null && s[i] !== null) line.push({ time: candles[i].time, value: f[i] - s[i] });
  }
  const sig = emaValues(line.map((p) => p.value), signal);
  const signalLine = [];
  const histogram = [];
  line.forEach((p, i) => {
    if (sig[i] !== null) {
      signalLine.push({ time: p.time, value: sig[i] });
      histogram.push({ time: p.time, value: p.value - sig[i] });
    }
  });
  return { macd: line, signal: signalLine, histogram };
}
