// "Get history" for the asset and timeframe on screen: a depth, a button, and how the backfill
// stands (it pages history back through the trader's own PocketOption page, as `qf backfill`).

import { useState } from 'react';
import { DEPTHS, progressText, when } from './history.js';

export default function HistoryControl({ tid, progress, refusal, disabled, onStart }) {
  const [days, setDays] = useState(DEPTHS[0][0]);
  const running = progress?.state === 'running';
  return (
    <span className="history-control">
      <select
        data-testid={tid('history-depth')}
        value={days}
        disabled={disabled || running}
        onChange={(e) => setDays(Number(e.target.value))}
        title="How far back to get history"
      >
        {DEPTHS.map(([d, name]) => (
          <option key={d} value={d}>
            {name}
          </option>
        ))}
      </select>{' '}
      <button
        type="button"
        data-testid={tid('history-button')}
        disabled={disabled || running}
        onClick={() => onStart(days)}
        title="Page older candles back through your PocketOption page, into data_collect"
      >
        Get history
      </button>
      {progress && (
        <span
          className={`muted history-${progress.state}`}
          data-testid={tid('history-status')}
          data-state={progress.state}
          data-candles={progress.candles}
          data-reached={progress.reached ?? ''}
          title={progress.reached != null ? `Oldest candle held: ${when(progress.reached)} UTC` : undefined}
        >
          {' '}
          {progressText(progress)}
        </span>
      )}
      {refusal && (
        <span className="panel-error" data-testid={tid('history-refusal')}>
          {' '}
          {refusal}
        </span>
      )}
    </span>
  );
}
