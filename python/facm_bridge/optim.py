"""AdamW with global-norm clipping and the EMA, as the trainer runs them (src/ops/optim.ts, shaders/optim.wgsl,
src/train/trainer.ts).

- clip = min(1, max_norm / (|g| + 1e-6)) (torch.nn.utils.clip_grad_norm_), off when max_norm <= 0;
  a non-finite gradient skips the update (the step still counts, the EMA still moves).
- AdamW (torch.optim.AdamW's decoupled decay) on the parameters whose table entry decays (matrices,
  not biases or the label table); moments m, v per parameter, as the checkpoint's optim.m. / optim.v.
- EMA decay min(ema_decay, (1 + step) / (10 + step)) after the step count is incremented: early on
  the average follows the weights (TF's num_updates warm-up), as the playground's trainer.
"""

import math

import torch

from .model import param_table


class AdamW:
    def __init__(self, model, lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, grad_clip=1.0, ema_decay=0.999,
                 warmup=0, decay_steps=0, floor=0.0):
        self.model = model
        self.warmup, self.decay_steps, self.floor = warmup, decay_steps, floor
        self.lr, self.beta1, self.beta2, self.eps, self.wd = lr, beta1, beta2, eps, weight_decay
        self.grad_clip, self.ema_decay = grad_clip, ema_decay
        self.params = dict(model.named_parameters())
        decays = {s[0]: s[3] for s in param_table(model.cfg)}
        self.decay = {n: decays[n] for n in self.params}
        self.m = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.ema = {n: p.detach().clone() for n, p in self.params.items()}
        self.step = 0

    @torch.no_grad()
    def grad_norm(self):
        """(|g|, clip factor, non-finite) over every parameter's gradient."""
        sq = sum(((p.grad.double() if p.grad is not None else torch.zeros(1, device=p.device, dtype=torch.float64)) ** 2).sum() for p in self.params.values())
        norm = math.sqrt(float(sq))
        finite = math.isfinite(norm)
        clip = min(1.0, self.grad_clip / (norm + 1e-6)) if self.grad_clip > 0 and finite else 1.0
        return norm, clip, not finite

    def lr_at(self, step: int) -> float:
        """The rate of optimizer step `step` (1-based): src/ops/optim.ts scheduledLr, a linear warm-up
        then a cosine to floor·lr over decay_steps, held at the floor after."""
        W, D = self.warmup, self.decay_steps
        if W > 0 and step < W:
            return self.lr * step / W
        if D <= 0:
            return self.lr
        p = min(1.0, max(0, step - W) / D)
        return self.lr * (self.floor + (1 - self.floor) * (1 + math.cos(math.pi * p)) / 2)

    @torch.no_grad()
    def apply(self):
        """One optimizer step from the current .grad; returns (|g|, non-finite)."""
        norm, clip, bad = self.grad_norm()
        self.step += 1
        if not bad:
            bc1 = 1 - self.beta1 ** self.step
            bc2 = 1 - self.beta2 ** self.step
            lr = self.lr_at(self.step)
            step_size, inv_sqrt_bc2 = lr / bc1, 1 / math.sqrt(bc2)
            for n, p in self.params.items():
                g = p.grad * clip if p.grad is not None else torch.zeros_like(p)
                if self.decay[n] and self.wd:
                    p.mul_(1 - lr * self.wd)
                m, v = self.m[n], self.v[n]
                m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                p.sub_(step_size * m / (v.sqrt() * inv_sqrt_bc2 + self.eps))
        d = min(self.ema_decay, (1 + self.step) / (10 + self.step))
        for n, p in self.params.items():
            e = self.ema[n]
            e.add_(p - e, alpha=1 - d)
        return norm, bad
