'use client';
// The live list: starts from the server's render, then follows
// /api/active-runs/events (a snapshot, then one `recovered` per run recovered).
import { useEffect, useRef, useState } from 'react';
import type { ActiveRunJson } from '../lib/active-runs-hub.ts';

type Connection = 'connecting' | 'live' | 'reconnecting';

export function ActiveRuns({ initialRuns }: { initialRuns: ActiveRunJson[] }) {
  const [runs, setRuns] = useState(initialRuns);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [recovered, setRecovered] = useState(0);
  // The list as the event handlers last left it (state updaters must stay pure).
  const current = useRef(initialRuns);

  useEffect(() => {
    const show = (next: ActiveRunJson[]): void => {
      current.current = next;
      setRuns(next);
    };
    const events = new EventSource('/api/active-runs/events');
    events.addEventListener('snapshot', (e) => {
      show((JSON.parse((e as MessageEvent<string>).data) as { runs: ActiveRunJson[] }).runs);
      setConnection('live');
    });
    events.addEventListener('recovered', (e) => {
      const { runId } = JSON.parse((e as MessageEvent<string>).data) as { runId: string };
      if (!current.current.some((run) => run.id === runId)) return;
      show(current.current.filter((run) => run.id !== runId));
      setRecovered((n) => n + 1);
    });
    events.addEventListener('error', () => setConnection('reconnecting'));
    return () => events.close();
  }, []);

  return (
    <section aria-label="Active runs">
      <div className="connection" data-connection={connection} id="connection">
        {connection === 'live' ? 'Live' : connection === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
      </div>
      {runs.length === 0 ? (
        <p className="empty" id="no-active-runs">No active runs.</p>
      ) : (
        <ul className="runs" id="active-runs">
          {runs.map((run) => (
            <li className="run" key={run.id} data-run-id={run.id} data-status={run.status}>
              <span>
                <span className="run-id">{run.id}</span>
                <time className="run-created" dateTime={run.createdAt}>
                  started {run.createdAt.replace(/\.\d{3}Z$/, 'Z')}
                </time>
              </span>
              <span className="status">{run.status}</span>
              <span className="progress" title="completed / total prospects">
                {run.completed}/{run.totalProspects}
              </span>
            </li>
          ))}
        </ul>
      )}
      {recovered > 0 ? (
        <p className="recovered-note" id="recovered-note">
          {recovered} stuck {recovered === 1 ? 'run was' : 'runs were'} recovered (marked FAILED) while this page was open.
        </p>
      ) : null}
    </section>
  );
}
