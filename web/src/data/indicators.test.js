import { describe, expect, it } from 'vitest';
import { bollinger, ema, macd, rsi, sma } from './indicators.js';

const closes = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.1, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28, 46.28, 46.0, 46.03, 46.41, 46.22, 45.64, 46.21];
const candles = closes.map((close, i) => ({ time: 60 * i, close }));

describe('indicators', () => {
  it('SMA is the plain mean of the window', () => {
    const out = sma(candles, 5);
    expect(out).toHaveLength(closes.length - 4);
    expect(out[0].time).toBe(240);
    expect(out[0].value).toBeCloseTo((44.34 + 44.09 + 44.15 + 43.61 + 44.33) / 5, 10);
  });

  it('EMA starts at the SMA and weighs each new close by 2/(n+1)', () => {
    const out = ema(candles, 3);
    let e = (closes[0] + closes[1] + closes[2]) / 3;
    expect(out[0].value).toBeCloseTo(e, 10);
    e = closes[3] * 0.5 + e * 0.5;
    expect(out[1].value).toBeCloseTo(e, 10);
  });

  it('Bollinger bands sit k standard deviations around the mean', () => {
    const { upper, middle, lower } = bollinger(candles, 20, 2);
    const w = closes.slice(0, 20);
    const mean = w.reduce((a, b) => a + b) / 20;
    const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / 20);
    expect(middle[0].value).toBeCloseTo(mean, 10);
    expect(upper[0].value).toBeCloseTo(mean + 2 * sd, 10);
    expect(lower[0].value).toBeCloseTo(mean - 2 * sd, 10);
  });

  it('RSI matches the textbook example (Wilder, 14)', () => {
    const out = rsi(candles, 14);
    expect(out[0].time).toBe(14 * 60);
    expect(out[0].value).toBeCloseTo(70.46, 1);
    expect(out.every((p) => p.value >= 0 && p.value <= 100)).toBe(true);
  });

  it('MACD histogram is the line minus its signal', () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ time: i, close: 1 + Math.sin(i / 5) }));
    const m = macd(many);
    expect(m.macd).toHaveLength(100 - 25);
    expect(m.signal).toHaveLength(100 - 25 - 8);
    const last = m.histogram.length - 1;
    expect(m.histogram[last].value).toBeCloseTo(m.macd[m.macd.length - 1].value - m.signal[last].value, 12);
  });
});
