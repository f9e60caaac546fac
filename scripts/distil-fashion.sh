#!/bin/sh
# Distil the shipped Fashion-MNIST teacher in the PyTorch bridge, in segments whose checkpoints are
# the points of the FD-over-steps curve (each segment continues the previous one exactly):
#
#   sh scripts/distil-fashion.sh facm 3e-4 runs/distil-facm [procs]
#   sh scripts/distil-fashion.sh cm-no-anchor 3e-4 runs/distil-cmna [procs]
#   STEPS=500 SEG=100 sh scripts/distil-fashion.sh cm-no-anchor 1e-2 runs/distil-cmna-1e-2   # other lengths
#
# 1,000 steps (STEPS) in segments of 250 (SEG) at batch 32, seed 0, the student starting from the teacher's weights (as
# `npm run facm -- train --init T --teacher T` does). Then, for each segment:
#   PYTHONPATH=python python3 -m facm_bridge.sample --ckpt DIR/step-N/checkpoint.safetensors --samplers nfe1,nfe2 --ema --out s.safetensors
#   npm run facm -- eval --ckpt DIR/step-N/checkpoint.safetensors --samples s.safetensors
set -e
OBJ=${1:?objective: facm or cm-no-anchor}
LR=${2:?learning rate}
DIR=${3:?output folder}
PROCS=${4:-1}
SEG=${SEG:-250}
STEPS=${STEPS:-1000}
T=public/teachers/fashion16-fm.safetensors
export PYTHONPATH=python OMP_NUM_THREADS=1
if [ "$PROCS" -gt 1 ]; then
  RUN="/usr/bin/python3 -m facm_bridge.torchrun --nproc_per_node=$PROCS --master_port=$((29000 + $$ % 1000)) -m facm_bridge.train"
else
  RUN="/usr/bin/python3 -m facm_bridge.train"
fi
prev=""
s=$SEG
while [ $s -le $STEPS ]; do
  out=$DIR/step-$s
  if [ ! -f $out/checkpoint.safetensors ]; then
    if [ -z "$prev" ]; then
      $RUN --init $T --teacher $T --objective $OBJ --dataset fashion16 --batch 32 --lr $LR --seed 0 --steps $SEG --log-every 50 --out $out
    else
      $RUN --init $prev --steps $SEG --log-every 50 --out $out
    fi
  fi
  prev=$out/checkpoint.safetensors
  s=$((s + SEG))
done
echo "done: $DIR/step-$STEPS/checkpoint.safetensors"
