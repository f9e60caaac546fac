// A DiT safetensors written by plain PyTorch code (a state_dict in float16 with DiT's pos_embed
// buffer, no metadata of this project) samples in the Node CLI once --heads is given, with notices
// saying what was inferred and converted; without --heads the CLI says what it needs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { facm, needTorch, PYTHON } from './bridge';
import { spawnSync } from 'node:child_process';

const dir = mkdtempSync(join(tmpdir(), 'facm-foreign-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The writer is safetensors' file layout by hand (json header + raw little-endian bytes), as
// `safetensors.torch.save_file` would write it; the DiT is the bridge's module, whose state_dict has
// facebookresearch/DiT's names, with pos_embed added as DiT stores it.
const WRITE = `
import json, struct, sys, torch
sys.path.insert(0, 'python')
from facm_bridge.model import DiT, PRESETS
torch.manual_seed(0)
m = DiT(PRESETS['tiny'])
with torch.no_grad():
    for p in m.parameters():
        p.normal_(0, 0.05)
sd = dict(m.state_dict())
sd['pos_embed'] = m.pos_embed.clone()
header, chunks, off = {}, [], 0
for k, v in sd.items():
    b = v.detach().to(torch.float16).contiguous().numpy().tobytes()
    header[k] = {'dtype': 'F16', 'shape': list(v.shape), 'data_offsets': [off, off + len(b)]}
    chunks.append(b); off += len(b)
h = json.dumps(header).encode()
h += b' ' * (-len(h) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(chunks))
`;

test('python bridge: a float16 DiT state_dict from plain PyTorch samples in the CLI with --heads', needTorch, () => {
  const script = join(dir, 'write.py');
  writeFileSync(script, WRITE);
  const file = join(dir, 'dit-f16.safetensors');
  const w = spawnSync(PYTHON, [script, file], { encoding: 'utf8' });
  assert.equal(w.status, 0, w.stderr);

  let r = facm('sample', '--ckpt', file, '--n', '4', '--out', join(dir, 'no.png'));
  assert.equal(r.code, 1);
  assert.match(r.err, /error: a PyTorch DiT checkpoint without this project's metadata: inferred D 32, patch 2, depth 2, 3 input channels, unconditional; still needed: the number of attention heads \(--heads N; for D 32: 1, 2, 4, 8, 16, 32\)/);

  const png = join(dir, 'grid.png');
  r = facm('sample', '--ckpt', file, '--heads', '2', '--nfe', '1', '--n', '4', '--out', png);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /PyTorch DiT checkpoint \(no facm-playground metadata\): 3×8×8 patch 2, D 32, depth 2, heads 2, classes 0/);
  assert.match(r.err, /image size 8×8 from pos_embed \(16 tokens; it equals the fixed sin-cos embedding/);
  assert.match(r.err, /converted 31 tensor\(s\) from F16 to F32/);
  assert.match(r.out, /wrote .*grid\.png: 4 samples, NFE 1, online weights, step 0/);
  assert.ok(existsSync(png));
});
