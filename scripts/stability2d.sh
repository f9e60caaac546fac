#!/bin/sh
# The 2-D stability seed table (README, Stability in 2-D): FACM and CM without anchor on the points
# preset at a raised peak rate, one WebGPU run (Node CLI) per objective and seed, two at a time (one
# per core), scored at the last step by `train`'s own evaluation (EMA weights, 4096 points, sliced W2
# as a multiple of held-out). Prints one line per run, then the NFE-1 figures as a share of the
# noise's distance (95 % or more counts as failed: as far from the data as the input noise).
#
#   sh scripts/stability2d.sh LR STEPS DIR [SEEDS] [-- extra train flags]
#   sh scripts/stability2d.sh 2e-2 600 runs/stab2d "0 1 2 3"
# EVERY=200 also evaluates along the way (the logs keep every evaluation; the table is the last step).
set -e
LR=${1:?peak lr}; STEPS=${2:?steps}; DIR=${3:?output folder}; SEEDS=${4:-0 1 2 3}
shift 3; [ $# -gt 0 ] && [ "$1" != "--" ] && shift
[ "$1" = "--" ] && shift
EXTRA="$*"
mkdir -p $DIR
run() { # objective seed
  [ -f $DIR/$1-s$2.log ] && grep -q "^eval step $STEPS " $DIR/$1-s$2.log && return 0
  npm run -s facm -- train --preset points --objective $1 --lr $LR --steps $STEPS --eval-every ${EVERY:-$STEPS} --seed $2 \
    --autosave-every 0 --log-every 100 $EXTRA --out $DIR/$1-s$2 > $DIR/$1-s$2.log 2>&1
}
for s in $SEEDS; do
  run facm $s & run cm-no-anchor $s; wait
done
for s in $SEEDS; do for o in cm-no-anchor facm; do
  line=$(grep "^eval step $STEPS " $DIR/$o-s$s.log)
  echo "$o seed $s: $line"
  echo "$line" | sed -E 's/.*NFE1 ([0-9.]+).*noise ([0-9.]+)\].*/\1 \2/' | awk -v o=$o -v s=$s '{ p = 100 * $1 / $2; printf "  NFE 1 at %.0f %% of the noise%s\n", p, (p >= 95 ? " (failed)" : "") }'
done; done
