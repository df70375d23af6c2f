// A chart's history on demand: older candles when it scrolls to its left edge, and "Get history"
// with the progress the server reports. The chart (ChartView) and its stream stay the panel's.

import { useRef, useState } from 'react';
import { olderCandles, postJson } from './api.js';
import { OLDER_PAGE, endsHistory } from './history.js';
import { label, toSeconds } from './data/timeframes.js';

/**
 * @param view  the panel's ref to its ChartView
 * @param want  the panel's ref to {asset, timeframe} on screen now
 * @param csv   whether the chart shows a dataset (which comes whole: nothing older to ask for)
 * @param onCount  told how many candles the chart holds after older ones were added
 */
export function useHistory(view, want, csv, onCount) {
  const [start, setStart] = useState(null); // the oldest candle there is, once known
  const [progress, setProgress] = useState(null); // the latest backfill_progress of this series
  const [refusal, setRefusal] = useState('');

  // An answer for another series, or for an edge that moved meanwhile, is dropped.
  const loadOlder = useRef(null);
  loadOlder.current = (before, reveal) => {
    const { asset: a, timeframe: tf } = want.current;
    if (csv || !a) {
      view.current?.prependOlder([], { ended: true });
      return;
    }
    olderCandles(a, tf, before, OLDER_PAGE)
      .then((rows) => {
        const v = view.current;
        if (!v || want.current.asset !== a || want.current.timeframe !== tf) return;
        if (!v.candles.length || v.candles[0].time !== before) return v.olderFailed();
        v.prependOlder(rows, { ended: endsHistory(rows.length, OLDER_PAGE), reveal });
        setStart(v.historyEnded ? v.candles[0].time : null);
        onCount(v.candles.length);
        return undefined;
      })
      .catch(() => view.current?.olderFailed());
  };

  const onProgress = useRef(null);
  onProgress.current = (msg) => {
    const { asset: a, timeframe: tf } = want.current;
    if (!msg || msg.asset !== a || toSeconds(msg.timeframe) !== tf) return;
    setProgress(msg);
    if (msg.state === 'done' && view.current) {
      // Scroll back into what was fetched.
      view.current.reopenHistory();
      setStart(null);
      view.current.askOlder(true);
    }
  };

  const getHistory = (days) => {
    const { asset: a, timeframe: tf } = want.current;
    setRefusal('');
    setProgress(null);
    // The socket's news may come before the answer; it is the newer then.
    postJson('/api/backfill', { asset: a, timeframe: label(tf), days })
      .then((p) => setProgress((old) => old ?? p))
      .catch((err) => setRefusal(err.message));
  };

  const reset = () => {
    setStart(null);
    setProgress(null);
    setRefusal('');
  };

  return { start, progress, refusal, loadOlder, onProgress, getHistory, reset };
}
