// The left side of the backtest page: the data, the strategies and their settings (forms from the
// service's schemas), what kind of run, and the run's progress with a way to cancel it.

import { JOB_KINDS, jobProgress, jobsFraction } from '../data/backtests.js';
import { words } from '../data/timeframes.js';

const RANK_METRICS = ['net_profit', 'roi', 'win_rate', 'profit_factor', 'expectancy', 'sharpe', 'max_drawdown'];

function Field({ field, value, onChange }) {
  const common = { 'data-testid': `param-${field.name}`, title: field.description };
  if (field.type === 'choice') {
    return (
      <select {...common} value={value ?? ''} onChange={(e) => onChange(e.target.value)}>
        {field.choices.map((c) => (
          <option key={String(c)} value={c}>
            {String(c)}
          </option>
        ))}
      </select>
    );
  }
  if (field.type === 'boolean') {
    return <input {...common} type="checkbox" checked={value === true || value === 'true'} onChange={(e) => onChange(e.target.checked)} />;
  }
  const numeric = field.type === 'integer' || field.type === 'number';
  return (
    <input
      {...common}
      type={numeric ? 'number' : 'text'}
      min={field.min}
      max={field.max}
      step={numeric ? field.step : undefined}
      value={value ?? ''}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}

function DataPicker({ datasets, chosenData, setChosenData }) {
  return (
    <div className="checklist" data-testid="backtest-datasets">
      {datasets.map((d) => (
        <label key={d.id}>
          <input
            type="checkbox"
            value={d.id}
            checked={chosenData.includes(d.id)}
            onChange={(e) => setChosenData(e.target.checked ? [...chosenData, d.id] : chosenData.filter((x) => x !== d.id))}
          />{' '}
          {d.asset}, {words(d.timeframe)}
          {d.rows ? ` (${d.rows} candles)` : ''}
        </label>
      ))}
    </div>
  );
}

function StrategyBox({ s, pick, setPick, sweeping }) {
  const set = (part, name, v) => setPick({ ...pick, [part]: { ...pick[part], [name]: v } });
  return (
    <fieldset data-testid={`strategy-${s.name}`}>
      <legend>
        <label>
          <input
            type="checkbox"
            data-testid={`strategy-pick-${s.name}`}
            checked={Boolean(pick?.on)}
            onChange={(e) => setPick({ ...pick, on: e.target.checked })}
          />{' '}
          {s.title}
        </label>
      </legend>
      {s.description && <p className="muted">{s.description}</p>}
      {pick?.on &&
        s.params.map((f) => (
          <label key={f.name} className="param">
            {f.title} <Field field={f} value={pick.values[f.name]} onChange={(v) => set('values', f.name, v)} />
            {sweeping && f.type !== 'choice' && f.type !== 'boolean' && (
              <input
                className="range"
                data-testid={`range-${f.name}`}
                placeholder="sweep, e.g. 3:9:2 or 3,5,8"
                title="Values to try: start:stop:step or a list a,b,c (empty: keep the setting)"
                value={pick.ranges?.[f.name] ?? ''}
                onChange={(e) => set('ranges', f.name, e.target.value)}
              />
            )}
          </label>
        ))}
    </fieldset>
  );
}

function KindSettings({ run, setRun }) {
  const set = (k, v) => setRun({ ...run, [k]: v });
  return (
    <div className="bt-kind">
      <label>
        Run as{' '}
        <select data-testid="backtest-kind" value={run.kind} onChange={(e) => set('kind', e.target.value)}>
          {JOB_KINDS.map(([k, title]) => (
            <option key={k} value={k}>
              {title}
            </option>
          ))}
        </select>
      </label>
      {(run.kind === 'grid' || run.kind === 'walk_forward') && (
        <label>
          Rank by{' '}
          <select data-testid="backtest-metric" value={run.metric} onChange={(e) => set('metric', e.target.value)}>
            {RANK_METRICS.map((m) => (
              <option key={m} value={m}>
                {m.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
      )}
      {run.kind === 'walk_forward' && (
        <>
          <label>
            Optimise on <input type="number" data-testid="wf-train" min={10} value={run.train} onChange={(e) => set('train', e.target.value)} /> candles,
          </label>
          <label>
            trade the next <input type="number" data-testid="wf-test" min={1} value={run.test} onChange={(e) => set('test', e.target.value)} />
          </label>
        </>
      )}
      {run.kind === 'monte_carlo' && (
        <label>
          Shuffles <input type="number" data-testid="mc-runs" min={1} value={run.shuffles} onChange={(e) => set('shuffles', e.target.value)} />
        </label>
      )}
    </div>
  );
}

function Progress({ jobs, onCancel }) {
  const fraction = jobsFraction(jobs);
  return (
    <div data-testid="backtest-progress" data-fraction={fraction}>
      {jobs.map((j) => (
        <div key={j.id} className="progress">
          <div className="bar" style={{ width: `${Math.max(3, 100 * jobProgress(j).fraction)}%` }} />
          <span>
            {j.request?.strategy || j.kind}: {jobProgress(j).text}
          </span>
        </div>
      ))}
      <button data-testid="backtest-cancel" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

export default function Form(props) {
  const { datasets, chosenData, setChosenData, strategies, loadError, chosen, setChosen, run, setRun } = props;
  const { running, jobs, canRun, onRun, onCancel, submitError } = props;
  const sweeping = run.kind === 'grid' || run.kind === 'walk_forward';
  return (
    <section className="bt-form">
      <h2>1. Data</h2>
      {!datasets.length && <p className="muted">No collected data yet. Let QuantumFlux run for a while first.</p>}
      <DataPicker datasets={datasets} chosenData={chosenData} setChosenData={setChosenData} />
      <h2>2. Strategies</h2>
      {loadError && <p className="panel-error">Could not get the strategies: {loadError}</p>}
      {strategies.map((s) => (
        <StrategyBox
          key={s.name}
          s={s}
          pick={chosen[s.name]}
          setPick={(p) => setChosen({ ...chosen, [s.name]: p })}
          sweeping={sweeping}
        />
      ))}
      <h2>3. Run</h2>
      <KindSettings run={run} setRun={setRun} />
      <button className="run" data-testid="backtest-run" disabled={running || !canRun} onClick={onRun}>
        {running ? 'Running…' : 'Run backtest'}
      </button>
      {submitError && (
        <p className="panel-error" data-testid="backtest-submit-error">
          {submitError}
        </p>
      )}
      {running && <Progress jobs={jobs} onCancel={onCancel} />}
    </section>
  );
}
