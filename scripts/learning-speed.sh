#!/bin/sh
# An FM run from scratch in the PyTorch bridge, measured at fixed numbers of images seen: FD /
# precision / recall of its Euler-16 samples (EMA and online weights, 1,000 samples drawn by the
# bridge, measured by the CLI's `eval`) at each point, one line per point in DIR/curve.txt.
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
  for w in ema online; do
    [ $w = ema ] && flag=--ema || flag=""
    if ! grep -q "^$n $w " $DIR/curve.txt 2>/dev/null; then
      /usr/bin/python3 -m facm_bridge.sample --ckpt $out/checkpoint.safetensors --samplers euler16 $flag --n 1000 --out $out/euler16-$w.safetensors >/dev/null
      line=$(npm run -s facm -- eval --ckpt $out/checkpoint.safetensors --samples $out/euler16-$w.safetensors 2>&1 | grep '^  samples')
      echo "$n $w $line" | sed 's/ *(Euler[^)]*)[^F]*FD/ FD/' >> $DIR/curve.txt
    fi
  done
  prev=$out/checkpoint.safetensors; done_steps=$steps
done
cat $DIR/curve.txt
