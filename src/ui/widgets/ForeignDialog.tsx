// The question a PyTorch DiT checkpoint raises when uploaded: its tensor shapes give the width,
// patch, depth, channels and classes, but not the number of attention heads (nor the image size
// when it stores no pos_embed). `askForeignHints` shows this dialog and resolves with the answers
// (null when cancelled); `<ForeignDialogHost />` renders it wherever the page mounts it.

import { useState } from 'react';
import { create } from 'zustand';
import { PRESETS } from '../../model/config';
import { headChoices, type ForeignConfigNeeded, type ForeignHints } from '../../train/foreign';

interface Ask {
  file: string;
  need: ForeignConfigNeeded;
  done: (h: ForeignHints | null) => void;
}

const useAsk = create<{ ask: Ask | null }>(() => ({ ask: null }));

export function askForeignHints(file: string, need: ForeignConfigNeeded): Promise<ForeignHints | null> {
  useAsk.getState().ask?.done(null); // a newer upload replaces an unanswered question
  return new Promise((resolve) => useAsk.setState({ ask: { file, need, done: (h) => (useAsk.setState({ ask: null }), resolve(h)) } }));
}

export function ForeignDialogHost() {
  const ask = useAsk((s) => s.ask);
  return ask ? <ForeignDialog key={ask.file + ask.need.message} ask={ask} /> : null;
}

function ForeignDialog({ ask }: { ask: Ask }) {
  const { inferred, missing } = ask.need;
  const heads = headChoices(inferred.D);
  // First offer: a preset's heads for this width, else the fewest heads (the largest head dimension ≤ 64).
  const [h, setH] = useState(Object.values(PRESETS).find((p) => p.config.D === inferred.D)?.config.heads ?? heads[0]);
  const [size, setSize] = useState(inferred.patch * 4);
  const sizeOk = Number.isInteger(size) && size > 0 && size % inferred.patch === 0;
  const submit = () => ask.done({ ...(missing.includes('heads') ? { heads: h } : {}), ...(missing.includes('imageSize') ? { imageSize: size } : {}) });
  return (
    <div className="autosave-notice offered foreign-dialog" role="dialog" aria-label="PyTorch checkpoint" data-testid="foreign-dialog">
      <span>
        <b>{ask.file}</b> is a PyTorch DiT without this playground's metadata: D {inferred.D}, patch {inferred.patch}, depth {inferred.depth}, {inferred.C} channels,{' '}
        {inferred.numClasses ? `${inferred.numClasses} classes` : 'unconditional'}
        {inferred.H ? `, ${inferred.H}×${inferred.H} images` : ''}. Its shapes do not tell:
        {missing.includes('heads') && (
          <label>
            {' '}attention heads{' '}
            <select data-testid="foreign-heads" value={h} onChange={(e) => setH(Number(e.target.value))}>
              {heads.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          </label>
        )}
        {missing.includes('imageSize') && (
          <label>
            {' '}image size{' '}
            <input data-testid="foreign-size" type="number" min={inferred.patch} step={inferred.patch} value={size} onChange={(e) => setSize(Number(e.target.value))} style={{ width: '5em' }} />
          </label>
        )}
      </span>
      <span className="buttons">
        <button data-testid="foreign-load" disabled={!sizeOk} onClick={submit}>
          Load
        </button>
        <button onClick={() => ask.done(null)}>Cancel</button>
      </span>
    </div>
  );
}
