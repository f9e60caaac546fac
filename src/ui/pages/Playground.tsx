// The playground page: the control column and the live panels. Runs train in Web Workers
// (src/worker/); this page only sends commands and draws what comes back.

import { useEffect } from 'react';
import { initFromUrl, takeDatasetFiles } from '../state/actions';
import { AutosaveNotice } from '../panels/AutosaveNotice';
import { ForeignDialogHost } from '../widgets/ForeignDialog';
import { restoreOnLoad } from '../persistence/autosave';
import { Controls } from '../panels/Controls';
import { ClampPanel } from '../panels/ClampPanel';
import { DevicePanel } from '../panels/DevicePanel';
import { ProfilePanel } from '../panels/ProfilePanel';
import { LossPanel } from '../panels/LossPanel';
import { RunsPanel } from '../panels/RunsPanel';
import { SamplesPanel } from '../panels/SamplesPanel';
import { Points2dPanel } from '../panels/Points2dPanel';
import { QualityPanel } from '../panels/QualityPanel';
import { TeacherStudentPanel } from '../panels/TeacherStudentPanel';
import { PRESETS } from '../../model/config';
import { isPointShape } from '../../data/points2d';
import { removeAll } from '../state/runner';
import { dismiss, focused, useStore } from '../state/store';

let initialised = false;

export function Playground({ adapter }: { adapter: string }) {
  useEffect(() => {
    useStore.setState({ pageAdapter: adapter });
    if (!initialised) {
      initialised = true;
      const search = location.search; // before initFromUrl rewrites it
      initFromUrl(search);
      void restoreOnLoad(search);
    }
    const bye = () => removeAll();
    addEventListener('pagehide', bye);
    return () => removeEventListener('pagehide', bye);
  }, [adapter]);
  const hasRuns = useStore((s) => s.runs.length > 0);
  // A run on a 2-D point set gets the 2-D panels in place of the image grids.
  const points = useStore((s) => {
    const p = PRESETS[focused(s)?.config.preset ?? ''];
    return !!p && isPointShape(p.config);
  });
  return (
    <div
      className="app"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        void takeDatasetFiles([...e.dataTransfer.files]);
      }}
    >
      <header className="topbar">
        <h1>
          FACM playground <span className="tag">flow-anchored consistency models, trained in your browser on WebGPU</span>
        </h1>
        <Messages />
        <AutosaveNotice />
        <ForeignDialogHost />
      </header>
      {hasRuns && (
        <div className="layout">
          <Controls />
          <main className="panels">
            <RunsPanel />
            {!points && <QualityPanel />}
            <LossPanel />
            {points ? <Points2dPanel /> : <SamplesPanel />}
            {!points && <TeacherStudentPanel />}
            <ClampPanel />
            <DevicePanel />
            <ProfilePanel />
          </main>
        </div>
      )}
    </div>
  );
}

function Messages() {
  const messages = useStore((s) => s.messages);
  if (messages.length === 0) return null;
  return (
    <ul className="messages" data-testid="messages">
      {messages.map((m) => (
        <li key={m.id} className={m.kind} data-testid={m.source === 'url' ? 'url-message' : 'message'}>
          <span>{m.text}</span>
          <button className="icon" onClick={() => dismiss(m.id)} aria-label="dismiss">
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
