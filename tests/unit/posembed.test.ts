// posEmbed2d against values worked out by hand from DiT's get_2d_sincos_pos_embed:
//   grid = meshgrid(grid_w, grid_h) → grid[0][h][w] = w, grid[1][h][w] = h (w first);
//   emb = [1d(D/2, grid[0]) | 1d(D/2, grid[1])], 1d(E, pos) = [sin(pos·ω) | cos(pos·ω)],
//   ω_k = 1/10000^(k/(E/2)); tokens row-major over (h, w).
import { test } from 'node:test';
import { posEmbed2d } from '../../src/ops/patch';
import { expectClose } from '../helpers/close';

const { sin, cos } = Math;
const tol = { rtol: 0, atol: 1e-15 };

test('posEmbed2d D=4 grid=2: ω = [1]; first half embeds the column w, second half the row h', () => {
  // token t = h·2 + w → [sin w, cos w, sin h, cos h]
  const want = [
    [0, 1, 0, 1], // (h0, w0)
    [sin(1), cos(1), 0, 1], // (h0, w1)
    [0, 1, sin(1), cos(1)], // (h1, w0)
    [sin(1), cos(1), sin(1), cos(1)], // (h1, w1)
  ].flat();
  expectClose('posEmbed2d(4, 2)', posEmbed2d(4, 2), want, tol, [4, 4]);
});

test('posEmbed2d D=8 grid=3: ω = [1, 1/100]; sin block then cos block (not interleaved)', () => {
  const e = posEmbed2d(8, 3);
  if (e.length !== 9 * 8) throw new Error(`length ${e.length}, want 72`);
  const row = (h: number, w: number) => [sin(w), sin(w / 100), cos(w), cos(w / 100), sin(h), sin(h / 100), cos(h), cos(h / 100)];
  // token 5 = (h1, w2), token 7 = (h2, w1): an (h, w) swap shows up here.
  expectClose('posEmbed2d(8, 3) token 5 (h1, w2)', e.subarray(5 * 8, 6 * 8), row(1, 2), tol);
  expectClose('posEmbed2d(8, 3) token 7 (h2, w1)', e.subarray(7 * 8, 8 * 8), row(2, 1), tol);
  expectClose('posEmbed2d(8, 3) token 5 explicit', e.subarray(5 * 8, 6 * 8), [
    0.9092974268256817, 0.01999866669333308, -0.4161468365471424, 0.9998000066665778,
    0.8414709848078965, 0.009999833334166664, 0.5403023058681398, 0.9999500004166653,
  ], { rtol: 0, atol: 1e-15 });
  const all = Array.from({ length: 9 }, (_, t) => row(Math.floor(t / 3), t % 3)).flat();
  expectClose('posEmbed2d(8, 3)', e, all, tol, [9, 8]);
});

test('posEmbed2d rejects D not divisible by 4 with a clear error', () => {
  for (const D of [2, 6, 10, 0]) {
    let msg = '';
    try {
      posEmbed2d(D, 2);
    } catch (err) {
      msg = (err as Error).message;
    }
    if (!/must be a positive multiple of 4/.test(msg)) throw new Error(`posEmbed2d(${D}, 2): got error "${msg}"`);
  }
});
