#!/bin/sh
# An FM run from scratch in the PyTorch bridge, measured at fixed numbers of images seen: FD /
# precision / recall of its Euler-16 samples (EMA and online weights) at each point, measured by
# scripts/fd-curve.sh into DIR/curve.txt (one line per point and weights).
#
#   sh scripts/learning-speed.sh PRESET DATASET BATCH LR WARMUP DIR [IMAGES...] [-- extra train flags]
#   sh scripts/learning-speed.sh mnist-16 fashion16 16 1e-3 0 runs/ls-old 16000 32000 64000
#
# Each point continues the previous checkpoint exactly (weights, EMA, AdamW moments, data and
# noise positions), so the points are one run's learning curve. Seed 0.
set -e
PRESET=${1:?preset}; DATASET=${2:?dataset}; BATCH=${3:?batch}; LR=${4:?lr}; WARM=${5:?lr warm-up steps}; DIR=${6:?output folder}
shift 6
POINTS=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do POINTS="$POINTS $1"; shift; done
[ "$1" = "--" ] && shift
EXTRA="$*"
export PYTHONPATH=python OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p $DIR
prev=""; done_steps=0
for n in ${POINTS:-16000 32000 64000}; do
  steps=$((n / BATCH)); out=$DIR/img-$n
  if [ ! -f $out/checkpoint.safetensors ]; then
    if [ -z "$prev" ]; then
      /usr/bin/python3 -m facm_bridge.train --preset $PRESET --objective fm --dataset $DATASET --batch $BATCH --lr $LR --lr-warmup $WARM $EXTRA --seed 0 --steps $steps --log-every 100 --out $out
    else
      /usr/bin/python3 -m facm_bridge.train --init $prev --steps $((steps - done_steps)) --log-every 100 --out $out
    fi
  fi
  for w in ema online; do sh scripts/fd-curve.sh $DIR/curve.txt euler16 $w $out/checkpoint.safetensors >/dev/null; done
  prev=$out/checkpoint.safetensors; done_steps=$steps
done
cat $DIR/curve.txt
