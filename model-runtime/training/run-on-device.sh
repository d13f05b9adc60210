#!/usr/bin/env bash
# One training call on the lent GPU (docs/training.md): resumes from /root/lv-ckpt when the machine is still warm
# from the previous call, trains for $1 seconds of wall time within a schedule of $2 seconds, exports to $OUT.
# Any further arguments go to train.py (e.g. --init, --buckets, --stretch-to, --lr).
#   run(command="bash model-runtime/training/run-on-device.sh 450 950", carry=[".train-data"], timeout_s=600)
set -uo pipefail
export PYTHONUNBUFFERED=1
SECS=${1:?seconds}; TOTAL=${2:?total seconds}; shift 2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, sys; print('torch', torch.__version__, 'python', sys.version.split()[0])"
ls -la .train-data
python3 model-runtime/training/train.py --pack '.train-data/*.lvpack.xz' --ckpt /root/lv-ckpt \
  --seconds "$SECS" --total-seconds "$TOTAL" --export "$OUT" "$@" 2>&1 | tee "$OUT/train-stdout.log"
