# A PyTorch replica of the one-token DiT (points preset) and the FACM / CM-without-anchor step of
# facm-math.md, for sweeping 2-D settings on a CPU faster than SwiftShader steps the WGSL trainer.
# Same init, t sampler, losses, AdamW, clip and EMA warm-up; evaluates sliced W2 (64 directions) and
# mode coverage like src/metrics/dist2d.ts. Its figures are the replica's, not the WGSL trainer's.
# /usr/bin/python3 scripts/replica2d.py --data eight-gaussians.json --batch 128 --lr 2e-3 --tmean 0 --tstd 1 [--lr-warmup 100 --lr-decay-steps 1900 --lr-floor 0]
import json, math, sys, time, argparse
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as Fn
import torch.autograd.forward_ad as fwAD

p = argparse.ArgumentParser()
p.add_argument('--data', default='eight-gaussians.json', help='from scripts/dump-points.ts')
p.add_argument('--D', type=int, default=64)
p.add_argument('--depth', type=int, default=2)
p.add_argument('--batch', type=int, default=256)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--steps', type=int, default=2000)
p.add_argument('--cos', type=float, default=1.0)     # weight of the FM cosine term
p.add_argument('--tmean', type=float, default=0.8)
p.add_argument('--tstd', type=float, default=1.6)
p.add_argument('--fmt', default='same')              # FM branch t: same | uniform
p.add_argument('--lr-warmup', type=int, default=0)    # the key table's lrWarmup, lrDecaySteps, lrFloor:
p.add_argument('--lr-decay-steps', type=int, default=0)  # linear warm-up, then a cosine to floor·lr
p.add_argument('--lr-floor', type=float, default=0.0)  # (src/ops/optim.ts scheduledLr)
p.add_argument('--lam', type=float, default=1.0)
p.add_argument('--objective', default='facm')        # facm | cmna | fm
p.add_argument('--beta2', type=float, default=0.99)
p.add_argument('--ema', default='0.999')            # EMA decay; a comma list keeps one EMA per decay (all with the warm-up)
p.add_argument('--clip', type=float, default=1.0)
p.add_argument('--seed', type=int, default=0)
p.add_argument('--every', type=int, default=500)
p.add_argument('--tag', default='')
a = p.parse_args()
torch.set_num_threads(1)
torch.manual_seed(a.seed)
np.random.seed(a.seed)

d = json.load(open(a.data))
X = torch.tensor(d['train'], dtype=torch.float32).view(-1, 2)
REF = np.array(d['train'], dtype=np.float64).reshape(-1, 2)
LAB = np.array(d['labels'])
HELD, NOISE, CLASSES = d['heldOut'], d['noise'], d['classes']
EVALN = d.get('n', 2048)  # points per evaluation: the held-out and noise figures were taken at this size

def sw(pts, refs, slices=64):
    if not np.all(np.isfinite(pts)): return float('inf')
    K = max(len(pts), len(refs)); u = (np.arange(K) + 0.5) / K
    tot = 0
    for s in range(slices):
        th = math.pi * s / slices; dvec = np.array([math.cos(th), math.sin(th)])
        pa = np.sort(pts @ dvec); pb = np.sort(refs @ dvec)
        qa = np.interp(u * len(pa) - 0.5, np.arange(len(pa)), pa); qb = np.interp(u * len(pb) - 0.5, np.arange(len(pb)), pb)
        tot += np.mean((qa - qb) ** 2)
    return math.sqrt(tot / slices)

def cover(pts, r=0.3):
    d2 = ((pts[:, None, :] - REF[None, ::4, :]) ** 2).sum(-1)
    j = d2.argmin(1); near = d2[np.arange(len(pts)), j] <= r * r
    lab = LAB[::4][j][near]
    share = np.bincount(LAB, minlength=CLASSES) / len(LAB)
    got = np.bincount(lab, minlength=CLASSES) / len(pts)
    return int(((got >= share / 4) & (share > 0)).sum())

def temb(c):
    i = torch.arange(128, dtype=torch.float32)
    f = torch.exp(-math.log(10000) * i / 128)
    a_ = c[:, None] * f[None]
    return torch.cat([torch.cos(a_), torch.sin(a_)], -1)

def ln(x): return Fn.layer_norm(x, (x.shape[-1],), eps=1e-6)

class Net(nn.Module):
    def __init__(s, D, depth):
        super().__init__()
        s.D = D
        s.xe = nn.Linear(2, D)
        pos = torch.cat([torch.zeros(D // 4), torch.ones(D // 4), torch.zeros(D // 4), torch.ones(D // 4)])
        s.register_buffer('pos', pos)
        s.t1 = nn.Linear(256, D); s.t2 = nn.Linear(D, D)
        s.ada = nn.ModuleList([nn.Linear(D, 6 * D) for _ in range(depth)])
        s.qkv = nn.ModuleList([nn.Linear(D, 3 * D) for _ in range(depth)])
        s.proj = nn.ModuleList([nn.Linear(D, D) for _ in range(depth)])
        s.fc1 = nn.ModuleList([nn.Linear(D, 4 * D) for _ in range(depth)])
        s.fc2 = nn.ModuleList([nn.Linear(4 * D, D) for _ in range(depth)])
        s.fada = nn.Linear(D, 2 * D); s.fout = nn.Linear(D, 2)
        for m in s.modules():
            if isinstance(m, nn.Linear): nn.init.xavier_uniform_(m.weight); nn.init.zeros_(m.bias)
        nn.init.normal_(s.t1.weight, std=0.02); nn.init.normal_(s.t2.weight, std=0.02)
        for m in list(s.ada) + [s.fada, s.fout]: nn.init.zeros_(m.weight); nn.init.zeros_(m.bias)
    def forward(s, x, c):
        D = s.D
        tok = s.xe(x) + s.pos
        cv = s.t2(Fn.silu(s.t1(temb(c))))
        sc = Fn.silu(cv)
        for i in range(len(s.ada)):
            sh1, s1, g1, sh2, s2, g2 = s.ada[i](sc).chunk(6, -1)
            h = ln(tok) * (1 + s1) + sh1
            v = s.qkv[i](h)[:, 2 * D:]  # one token: softmax weight 1, attention = V
            tok = tok + g1 * s.proj[i](v)
            h = ln(tok) * (1 + s2) + sh2
            tok = tok + g2 * s.fc2[i](Fn.gelu(s.fc1[i](h), approximate='tanh'))
        sh, scl = s.fada(sc).chunk(2, -1)
        return s.fout(ln(tok) * (1 + scl) + sh)

net = Net(a.D, a.depth)
EMAS = [float(e) for e in str(a.ema).split(',')]
emas = []
for _ in EMAS:
    e_ = Net(a.D, a.depth); e_.load_state_dict(net.state_dict()); emas.append(e_)
opt = torch.optim.AdamW(net.parameters(), lr=a.lr, betas=(0.9, a.beta2), eps=1e-8, weight_decay=0)

def tsample(n):
    s = (2 / math.pi) * torch.atan(torch.exp(torch.randn(n) * a.tstd - a.tmean))
    return 1 - s

def fm_loss(F, v):
    mse = ((F - v) ** 2).mean(-1)
    cos = (F / F.norm(dim=-1, keepdim=True).clamp_min(1e-8) * v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)).sum(-1)
    return mse + a.cos * (1 - cos)

@torch.no_grad()
def evaluate(m, step):
    g = torch.Generator().manual_seed(1234)
    N = EVALN
    z = torch.randn(N, 2, generator=g)
    x1 = z + m(z, torch.zeros(N))
    xe = x1; xm = 0.5 * xe + 0.5 * torch.randn(N, 2, generator=g)
    x2 = xm + 0.5 * m(xm, torch.full((N,), 0.5))
    x = z.clone()
    for i in range(16):
        t = i / 16
        x = x + m(x, torch.full((N,), 2 - t)) / 16
    r = {}
    for k, pts in (('nfe1', x1), ('nfe2', x2), ('eul', x)):
        pn = pts.double().numpy()
        r[k] = (sw(pn, REF), cover(pn) if np.all(np.isfinite(pn)) else 0)
    return r

def lr_at(step):
    # src/ops/optim.ts scheduledLr, step 1-based
    W, D = a.lr_warmup, a.lr_decay_steps
    if W > 0 and step < W: return a.lr * step / W
    if D <= 0: return a.lr
    q = min(1.0, max(0, step - W) / D)
    return a.lr * (a.lr_floor + (1 - a.lr_floor) * (1 + math.cos(math.pi * q)) / 2)

gen = torch.Generator().manual_seed(a.seed)
t0 = time.time()
hist = []
for step in range(1, a.steps + 1):
    lr = lr_at(step)
    for gp in opt.param_groups: gp['lr'] = lr
    x = X[torch.randint(0, len(X), (a.batch,), generator=gen)]
    eps = torch.randn(a.batch, 2)
    t = tsample(a.batch)
    xt = t[:, None] * x + (1 - t[:, None]) * eps
    v = x - eps
    loss = 0
    if a.objective == 'fm':
        tu = torch.rand(a.batch); xu = tu[:, None] * x + (1 - tu[:, None]) * eps
        c = torch.where(torch.arange(a.batch) < a.batch // 2, tu, 2 - tu)
        loss = fm_loss(net(xu, c), v).mean()
    else:
        if a.lam > 0 and a.objective == 'facm':
            if a.fmt == 'uniform':
                tf = torch.rand(a.batch); xf = tf[:, None] * x + (1 - tf[:, None]) * eps
            else:
                tf, xf = t, xt
            loss = loss + a.lam * fm_loss(net(xf, 2 - tf), v).mean()
        with torch.no_grad():
            with fwAD.dual_level():
                dx = fwAD.make_dual(xt, v); dc = fwAD.make_dual(t, torch.ones_like(t))
                out = net(dx, dc)
                Fp, dF = fwAD.unpack_dual(out)
                Fp = Fp.clone(); dF = dF.clone()
        F = net(xt, t)
        g = Fp - (v + (1 - t[:, None]) * dF)
        alpha = 1 - t.sqrt()
        target = Fp - alpha[:, None] * g.clamp(-1, 1)
        e = ((F - target) ** 2).mean(-1)
        lcm = torch.cos(math.pi * t / 2) * e / (e.detach() + 1e-3).sqrt()
        loss = loss + lcm.mean()
    opt.zero_grad()
    loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(net.parameters(), a.clip)
    if not torch.isfinite(gn):
        opt.zero_grad()
    else:
        opt.step()
    with torch.no_grad():
        for decay, em in zip(EMAS, emas):
            dec = min(decay, (1 + step) / (10 + step))
            for pe, pn in zip(em.parameters(), net.parameters()): pe.mul_(dec).add_(pn, alpha=1 - dec)
    if step % a.every == 0:
        f = lambda q: f"{q[0]/HELD:5.2f}x/{q[1]}"
        g = lambda r: f"NFE1 {f(r['nfe1'])} NFE2 {f(r['nfe2'])} Eul {f(r['eul'])}"
        parts = [f"online {g(evaluate(net, step))}"] + [f"EMA {d} {g(evaluate(em, step))}" for d, em in zip(EMAS, emas)]
        print(f"{a.tag} step {step} " + " | ".join(parts) + f" | {time.time()-t0:.0f}s", flush=True)
