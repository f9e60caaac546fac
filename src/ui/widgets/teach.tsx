// The teaching notes beside each panel: what is plotted and why it matters, for someone meeting
// consistency models for the first time. Kept short; the math is in docs/math.md.

import type { ReactNode } from 'react';

export function Teach({ title, children }: { title: string; children: ReactNode }) {
  return (
    <aside className="teach">
      <h4>{title}</h4>
      {children}
    </aside>
  );
}

export const LOSS_NOTE = (
  <Teach title="What the losses mean">
    <p>
      A <b>consistency model</b> learns to jump from noise to data in one network call, by making its predictions agree
      along each noise-to-data path. Its target is built from its own output and time derivative: the model chases itself.
    </p>
    <p>
      <b>L_CM</b> is that self-referential loss. A low L_CM alone is not success: a network that outputs a constant is
      perfectly self-consistent. <b>L_FM</b> is FACM&apos;s <b>anchor</b>: the same network, at a separate time c = 2 − t,
      must predict the true velocity v = x − ε of plain flow matching, so its features stay tied to the data.
    </p>
    <p>
      Consistency losses divide the error by a stop-gradient of its own size: L_CM reads about √error and MeanFlow&apos;s
      loss stays near 1 whatever its error, so compare runs by their samples and residuals too. Watch for a loss that
      goes non-finite (a black long-dashed line, in the legend as “collapse”) or an L_CM that sinks while the samples turn to mush.
    </p>
  </Teach>
);

export const CLAMP_NOTE = (
  <Teach title="Why clamp the residual">
    <p>
      The CM target is <code>F − α·clamp(g, ±1)</code> with residual <code>g = F − (v + (1−t)·dF/dt)</code>. When the
      model&apos;s own derivative term <b>(1−t)·dF/dt</b> outgrows the velocity signal <b>v</b>, the target is mostly the
      model talking to itself: the feedback loop that makes consistency training blow up.
    </p>
    <p>
      The <b>clamp</b> caps each element of g at ±1, so one step never moves the target far; <b>α = 1 − √t</b> takes only
      part of the step. Healthy runs keep RMS (1−t)·dF/dt near RMS v and clamp a modest, falling fraction; the heatmap
      shows at which t the clamp bites (usually near the noise end, small t, where 1 − t is largest).
    </p>
  </Teach>
);

export const SAMPLES_NOTE = (
  <Teach title="Reading the samples">
    <p>
      Every grid starts from the <b>same 16 noise images</b>, so frames compare across time and across runs with one seed.
      <b> NFE 1</b>: one call, x̂ = z + F(z, 0). <b>NFE 2</b>: jump, re-noise to t = 0.5, jump again.
    </p>
    <p>
      <b>Euler (anchor)</b>: the FM branch is an ordinary flow model, so integrating its velocity in small steps gives its
      own samples: the teacher hidden inside FACM. At step 0 the network outputs zero (adaLN-Zero), so the one-step
      sample is the noise itself.
    </p>
    <p>
      <b>Distance to the data</b>: for each sample, how far (RMS per pixel) the nearest real image is. Held-out real
      images give the floor, the noise the ceiling. A collapsed run keeps its loss low while this stays near the noise
      figure: without the anchor, the consistency objective can be satisfied by an output that ignores the data.
    </p>
  </Teach>
);

export const DEVICE_NOTE = (
  <Teach title="Where the time goes">
    <p>
      A FACM step runs the network three ways: forward + backward for the anchor, and a forward-mode <b>JVP</b> (output
      and its time derivative in one pass) + backward for the consistency branch. All of it is WGSL compute shaders in
      this tab; a worker per run keeps the page responsive.
    </p>
    <p>
      SwiftShader (a CPU emulation of a GPU, used when there is none) manages a few images per second on the tiny preset;
      a laptop GPU, thousands.
    </p>
  </Teach>
);

export const RUNS_NOTE = (
  <Teach title="Comparing runs">
    <p>
      An ablation preset makes runs with the same model, data, batch, learning rate and seed (so the same initial
      weights, batches and noise); they differ only in the settings listed under <b>differs</b>. Click a row to show its
      samples and edit its settings.
    </p>
  </Teach>
);

export const PROFILE_NOTE = (
  <Teach title="Reading a profile">
    <p>
      <b>Profile one step</b> times every compute dispatch of the run's next optimizer step on the GPU itself, with
      timestamp queries written at the start and end of each one (while profiling, each dispatch gets its own compute
      pass, so the step runs a little slower than usual). Rows group the dispatches of one WGSL entry point.
    </p>
    <p>
      In a FACM step the matrix multiplies of the forward, JVP and backward passes usually dominate; attention grows with
      the number of patches (tokens²). Adapters without the <code>timestamp-query</code> feature cannot be profiled this way.
    </p>
    <p>
      <b>Kernel variants</b>: the first run on an adapter times a few variants of the matrix-multiply and attention
      kernels (tile and register sizes) on this run's own shapes, for at most a few seconds, keeps the fastest per shape
      and remembers the choice in this browser for this adapter; later loads time nothing. <b>Re-tune</b> times every
      shape again (e.g. after a driver update). Each profile row names the variant and shape it ran.
    </p>
  </Teach>
);

export const QUALITY_NOTE = (
  <Teach title="Reading FD over steps">
    <p>
      Every <b>quality every</b> steps the run draws samples from fixed noise and measures their <b>Fréchet distance</b> (FD)
      to the data in a fixed feature space (a PCA of the training images): lower is closer to real images. The dotted grey
      line is held-out real images, the floor a perfect generator reaches with that many samples.
    </p>
    <p>
      Solid: one step (NFE 1); dashed: two steps; dotted: the FM anchor integrated with Euler, the teacher inside FACM. A
      run whose loss falls while its FD stays high is not learning the data.
    </p>
  </Teach>
);

export const TEACHER_NOTE = (
  <Teach title="How many teacher steps is one student step worth?">
    <p>
      The <b>teacher</b> is a flow-matching model: it draws an image by integrating its velocity from noise in N small
      Euler steps, N network calls. One step gives a blurred average; quality rises with N.
    </p>
    <p>
      The <b>student</b> starts as a copy of the teacher and is trained (FACM) to land where the teacher's path ends in one
      call. Every grid here starts from the same noise, so you can follow one image across the row.
    </p>
    <p>
      The plot puts both on one axis, <b>network calls</b>: where the teacher's line falls to the student's one-step FD
      is how many teacher steps the student's single step is worth. The paper's headline: one FACM step matches a
      many-step teacher.
    </p>
  </Teach>
);
