// An image set drawn as a 4-column grid on a canvas (one canvas pixel per image pixel, scaled up
// by CSS with pixelated rendering: crisp at any size, cheap to redraw).

import { useEffect, useRef } from 'react';
import type { ImageSet } from '../../worker/protocol';
import { gridOf } from '../persistence/exporters';

export function GridCanvas({ set, size, testId, step, label }: { set: ImageSet | null; size: number; testId?: string; step?: number; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c || !set) return;
    const g = gridOf(set);
    c.width = g.width;
    c.height = g.height;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const img = new ImageData(new Uint8ClampedArray(g.rgba.buffer as ArrayBuffer, g.rgba.byteOffset, g.rgba.byteLength), g.width, g.height);
    ctx.putImageData(img, 0, 0);
  }, [set]);
  return (
    <figure className="grid">
      {set ? (
        <canvas ref={ref} data-testid={testId} data-step={step ?? ''} style={{ width: size, height: size }} aria-label={label} />
      ) : (
        <div className="grid-empty" style={{ width: size, height: size }}>
          waiting…
        </div>
      )}
      <figcaption>{label}</figcaption>
    </figure>
  );
}
