// Scatter plots of 2-D points rasterised to RGBA (for the CLI's PNGs of point-set samples; the
// playground draws the same layers on a canvas). Points are (n, 2) row-major; the view is the square
// [−extent, extent]², y up.

export interface ScatterLayer {
  points: Float32Array;
  /** [r, g, b] in 0..255. */
  color: [number, number, number];
  /** Opacity of one dot, 0..1 (overlapping dots accumulate). */
  alpha?: number;
  /** Dot radius in pixels. */
  radius?: number;
}

export interface Raster {
  rgba: Uint8Array;
  width: number;
  height: number;
}

/** Draws the layers in order onto a white square of `size` pixels; points outside the view are skipped. */
export function renderScatter(layers: ScatterLayer[], extent: number, size = 400): Raster {
  if (!(extent > 0)) throw new Error(`renderScatter: extent must be positive, got ${extent}`);
  if (!Number.isInteger(size) || size < 8) throw new Error(`renderScatter: size must be an integer ≥ 8, got ${size}`);
  const rgb = new Float32Array(size * size * 3).fill(255);
  const toPx = (v: number) => ((v + extent) / (2 * extent)) * (size - 1);
  for (const L of layers) {
    if (L.points.length % 2) throw new Error(`renderScatter: a layer has ${L.points.length} values, not (n, 2)`);
    const a = L.alpha ?? 0.6;
    const r = L.radius ?? 1.5;
    const R = Math.ceil(r);
    for (let i = 0; i < L.points.length; i += 2) {
      const x = L.points[i];
      const y = L.points[i + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const cx = toPx(x);
      const cy = size - 1 - toPx(y);
      for (let dy = -R; dy <= R; dy++)
        for (let dx = -R; dx <= R; dx++) {
          const px = Math.round(cx) + dx;
          const py = Math.round(cy) + dy;
          if (px < 0 || py < 0 || px >= size || py >= size) continue;
          if ((px - cx) ** 2 + (py - cy) ** 2 > r * r) continue;
          const o = 3 * (py * size + px);
          for (let c = 0; c < 3; c++) rgb[o + c] += a * (L.color[c] - rgb[o + c]);
        }
    }
  }
  const rgba = new Uint8Array(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < 3; c++) rgba[4 * p + c] = Math.round(rgb[3 * p + c]);
    rgba[4 * p + 3] = 255;
  }
  return { rgba, width: size, height: size };
}

/** Places rasters of one height side by side with a `gap` of white between them. */
export function sideBySide(parts: Raster[], gap = 8): Raster {
  if (parts.length === 0) throw new Error('sideBySide: no images');
  const height = parts[0].height;
  if (parts.some((p) => p.height !== height)) throw new Error('sideBySide: images of different heights');
  const width = parts.reduce((s, p) => s + p.width, 0) + gap * (parts.length - 1);
  const rgba = new Uint8Array(width * height * 4).fill(255);
  let x0 = 0;
  for (const p of parts) {
    for (let y = 0; y < height; y++) rgba.set(p.rgba.subarray(y * p.width * 4, (y + 1) * p.width * 4), (y * width + x0) * 4);
    x0 += p.width + gap;
  }
  return { rgba, width, height };
}
