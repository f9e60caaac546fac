// The notice about autosaved runs found on page load: "restored … press Train to continue" with a
// Discard, or, when a shared link won, an offer to Restore them instead (src/ui/autosave.ts).

import { discardAutosave, restoreOffered } from '../persistence/autosave';
import { useStore } from '../state/store';

export function AutosaveNotice() {
  const n = useStore((s) => s.autosave);
  if (!n) return null;
  return (
    <div className={`autosave-notice ${n.kind}`} data-testid="autosave-notice">
      <span data-testid="autosave-text">{n.kind === 'restored' ? `${n.text[0].toUpperCase()}${n.text.slice(1)}.` : n.text}</span>
      <span className="buttons">
        {n.kind === 'offered' && (
          <button data-testid="btn-autosave-restore" onClick={() => void restoreOffered()} title="Replace this page's runs by the autosaved ones">
            Restore
          </button>
        )}
        <button data-testid="btn-autosave-discard" onClick={() => void discardAutosave()} title={n.kind === 'restored' ? 'Delete the autosave and start over from step 0 with these settings' : 'Delete the autosave'}>
          Discard
        </button>
        {n.kind === 'restored' && (
          <button className="icon" aria-label="dismiss" title="Hide this notice (the autosave stays)" onClick={() => useStore.setState({ autosave: null })}>
            ×
          </button>
        )}
      </span>
    </div>
  );
}
