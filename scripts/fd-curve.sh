#!/bin/sh
# FD / precision / recall of checkpoints' samples: 1,000 samples per sampler drawn by the PyTorch
# bridge (the CLI's samplers and noise), measured by the CLI's `eval`; one line per checkpoint and
# sampler, appended to OUT (a line already there is not measured again).
#
#   sh scripts/fd-curve.sh OUT SAMPLERS WEIGHTS CKPT...
#   sh scripts/fd-curve.sh runs/distil-cmna/curve.txt nfe1,nfe2 ema runs/distil-cmna/step-*/checkpoint.safetensors
#
# WEIGHTS: ema or online (which weights sample).
set -e
OUT=${1:?output file}; SAMPLERS=${2:?samplers, e.g. euler16 or nfe1,nfe2}; W=${3:?ema or online}
shift 3
export PYTHONPATH=python OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
[ "$W" = ema ] && flag=--ema || flag=""
for ck in "$@"; do
  key="$ck $W $SAMPLERS"
  grep -qF "$key" "$OUT" 2>/dev/null && continue
  s=$(dirname $ck)/samples-$W-$(echo $SAMPLERS | tr , -).safetensors
  /usr/bin/python3 -m facm_bridge.sample --ckpt $ck --samplers $SAMPLERS $flag --n 1000 --out $s >/dev/null
  npm run -s facm -- eval --ckpt $ck --samples $s 2>&1 | grep '^  samples' | sed "s|^  samples|$key:|; s| from $s||" >> $OUT
done
cat $OUT
