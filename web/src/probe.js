// What a browser test may read of the chart itself. lightweight-charts draws on a canvas, so the
// only way to check what it really holds (rather than the app's own copy of the candles) is to
// ask its series. The read-only hook exists only on a page opened with `?probe=1`: a trader's
// page carries no such surface.

export const PROBE_FLAG = 'probe';
export const PROBE_HOOK = '__qfProbe';
// Prices, and the colours of a candle drawn apart from the others (an incomplete one).
const FIELDS = ['time', 'open', 'high', 'low', 'close', 'color', 'borderColor', 'wickColor'];
const MARKER_FIELDS = ['id', 'time', 'position', 'shape', 'color', 'text'];
const registries = new WeakMap(); // window -> Map(chart name -> series)
const markerRegistries = new WeakMap(); // window -> Map(chart name -> series markers plugin)

/** Whether a page with this query string (`location.search`) was opened for a test. */
export function probing(search) {
  return new URLSearchParams(search || '').get(PROBE_FLAG) === '1';
}

/** The candles a series holds, as plain copies: whoever reads them cannot change the chart. */
export function seriesCandles(series) {
  return series.data().map((d) => Object.fromEntries(FIELDS.filter((k) => k in d).map((k) => [k, d[k]])));
}

/** The markers a series markers plugin (`createSeriesMarkers`) holds, as plain copies. */
export function seriesMarkers(plugin) {
  return plugin.markers().map((m) => Object.fromEntries(MARKER_FIELDS.filter((k) => k in m).map((k) => [k, m[k]])));
}

function registry(win) {
  let charts = registries.get(win);
  if (!charts) {
    charts = new Map();
    registries.set(win, charts);
    const hook = Object.freeze({
      charts: () => [...charts.keys()],
      candles: (name) => (charts.has(name) ? seriesCandles(charts.get(name)) : null),
      markers: (name) => {
        const plugin = markerRegistries.get(win)?.get(name);
        return plugin ? seriesMarkers(plugin) : null;
      },
    });
    Object.defineProperty(win, PROBE_HOOK, { value: hook, enumerable: false, writable: false });
  }
  return charts;
}

/**
 * Let a test read chart `name`'s candle series when the page was opened with the probe flag.
 * Returns the function that withdraws it (a no-op when not probing).
 */
export function exposeSeries(name, series, win = globalThis.window) {
  if (!win || !probing(win.location?.search)) return () => {};
  const charts = registry(win);
  charts.set(name, series);
  return () => {
    if (charts.get(name) === series) charts.delete(name);
  };
}

/**
 * Let a test read chart `name`'s markers (what the page handed `createSeriesMarkers`) when the
 * page was opened with the probe flag. A test driver that can only read the page's elements
 * finds the same copy, as JSON, in `element`'s `data-probe-markers`. Returns the function that
 * withdraws them.
 */
export function exposeMarkers(name, plugin, win = globalThis.window, element = null) {
  if (!win || !probing(win.location?.search)) return () => {};
  registry(win);
  element?.setAttribute('data-probe-markers', JSON.stringify(seriesMarkers(plugin)));
  let plugins = markerRegistries.get(win);
  if (!plugins) {
    plugins = new Map();
    markerRegistries.set(win, plugins);
  }
  plugins.set(name, plugin);
  return () => {
    if (plugins.get(name) === plugin) plugins.delete(name);
    element?.removeAttribute('data-probe-markers');
  };
}
