// Backtests: pick data and strategies, run them as jobs of the backtest service (with progress
// and a way to cancel), and read the results. The page address carries the job ids
// (`#/backtests/<id>,<id>`), so a result can be opened again later from its link.

import { useEffect, useMemo, useState } from 'react';
import { cancelJob, getFirst, getJob, submitJob } from './api.js';
import { FINAL_STATES, jobRequest, readResultHash, resultHash, runsOfJobs } from './data/backtests.js';
import { paramValues, readStrategies } from './data/shapes.js';
import Form from './backtest/Form.jsx';
import Results from './backtest/Results.jsx';
import './backtest/backtest.css';

const POLL_MS = 300;
const FIRST_RUN = { kind: 'backtest', metric: 'net_profit', train: 1000, test: 250, shuffles: 1000 };

/** The jobs `ids`, asked again every POLL_MS until each has finished: id -> job. */
function useJobs(ids) {
  const [jobs, setJobs] = useState({});
  const key = ids.join(',');
  useEffect(() => {
    let timer = null;
    const ctl = new AbortController();
    let known = {};
    setJobs({});
    const poll = async () => {
      const open = ids.filter((id) => !known[id] || (!known[id].missing && !FINAL_STATES.includes(known[id].state)));
      const got = await Promise.all(
        open.map((id) =>
          getJob(id, { signal: ctl.signal }).catch((err) => (err.name === 'AbortError' ? null : { missing: err.message })),
        ),
      );
      if (ctl.signal.aborted) return;
      known = { ...known, ...Object.fromEntries(open.map((id, i) => [id, got[i]]).filter(([, j]) => j)) };
      setJobs(known);
      if (ids.some((id) => !known[id] || (!known[id].missing && !FINAL_STATES.includes(known[id].state)))) {
        timer = setTimeout(poll, POLL_MS);
      }
    };
    if (ids.length) poll();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [key]); // eslint-disable-line react-hooks/exhaustive-deps
  return jobs;
}

/** The job ids in the page address, following its changes. */
function useResultIds() {
  const [ids, setIds] = useState(() => readResultHash(window.location.hash));
  useEffect(() => {
    const follow = () => setIds(readResultHash(window.location.hash));
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  return [ids, setIds];
}

function useStrategies() {
  const [strategies, setStrategies] = useState([]);
  const [chosen, setChosen] = useState({}); // strategy name -> {on, values, ranges}
  const [loadError, setLoadError] = useState('');
  useEffect(() => {
    getFirst(['/api/strategies', '/api/backtests/strategies'])
      .then((body) => {
        const list = readStrategies(body);
        setStrategies(list);
        const init = {};
        list.forEach((s, i) => {
          const values = Object.fromEntries(s.params.map((f) => [f.name, f.default ?? '']));
          init[s.name] = { on: i === 0, values, ranges: {} };
        });
        setChosen(init);
      })
      .catch((err) => setLoadError(err.message));
  }, []);
  return { strategies, chosen, setChosen, loadError };
}

/** Submitting jobs (their ids go into the page address) and cancelling the ones still open. */
function useRunner(setIds, jobs, ids) {
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState('');
  const start = async (bodies, kind) => {
    setSubmitting(true);
    setSubmitError('');
    try {
      const made = [];
      for (const body of bodies) made.push((await submitJob(body, kind)).id);
      window.location.hash = resultHash(made);
      setIds(made);
    } catch (err) {
      setSubmitError(err.message);
    } finally {
      setSubmitting(false);
    }
  };
  const cancel = () =>
    ids.filter((id) => jobs[id] && !FINAL_STATES.includes(jobs[id].state)).forEach((id) => cancelJob(id).catch(() => {}));
  return { start, cancel, submitting, submitError };
}

export default function Backtests({ datasets, onRefresh, onTrades }) {
  const { strategies, chosen, setChosen, loadError } = useStrategies();
  const [chosenData, setChosenData] = useState([]);
  const [run, setRun] = useState(FIRST_RUN);
  const [ids, setIds] = useResultIds();
  const jobs = useJobs(ids);
  const { start, cancel, submitting, submitError } = useRunner(setIds, jobs, ids);

  useEffect(() => {
    onRefresh?.();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!chosenData.length && datasets.length) setChosenData([datasets[0].id]);
  }, [datasets]); // eslint-disable-line react-hooks/exhaustive-deps

  const picked = strategies.filter((s) => chosen[s.name]?.on);
  const jobList = ids.map((id) => jobs[id]).filter((j) => j && !j.missing);
  const finished = ids.every((id) => jobs[id] && (jobs[id].missing || FINAL_STATES.includes(jobs[id].state)));
  const running = submitting || (ids.length > 0 && !finished);
  const runs = useMemo(() => runsOfJobs(ids, jobs), [ids, jobs]);
  const bodies = () =>
    picked.map((s) => {
      const c = chosen[s.name];
      return jobRequest(chosenData, s.name, paramValues(s.params, c.values), c.ranges, run);
    });

  // The trades of the first run are also drawn on the dataset's candles in the chart page's CSV mode.
  const first = runs.find((r) => r.result);
  useEffect(() => {
    if (onTrades && first) onTrades({ dataset: first.dataset, trades: first.result.trades });
  }, [first?.jobId, first?.dataset]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <main className="backtests">
      <Form
        datasets={datasets}
        chosenData={chosenData}
        setChosenData={setChosenData}
        strategies={strategies}
        loadError={loadError}
        chosen={chosen}
        setChosen={setChosen}
        run={run}
        setRun={setRun}
        running={running}
        jobs={jobList}
        canRun={chosenData.length > 0 && picked.length > 0}
        onRun={() => start(bodies(), run.kind)}
        onCancel={cancel}
        submitError={submitError}
      />
      {runs.length > 0 && <Results key={ids.join(',')} runs={runs} state={running ? 'running' : 'done'} datasets={datasets} />}
    </main>
  );
}
