#!/usr/bin/env bash
# One training call on the lent GPU (docs/training.md): resumes from /root/lv-ckpt when the machine is still warm
# from the previous call, trains for $1 seconds of wall time within a schedule of $2 seconds, exports to $OUT.
#   run(command="bash model-runtime/training/run-on-device.sh 450 950", carry=[".train-data"], timeout_s=600)
set -uo pipefail
export PYTHONUNBUFFERED=1
SECS=${1:?seconds}; TOTAL=${2:?total seconds}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, sys; print('torch', torch.__version__, 'python', sys.version.split()[0])"
ls -la .train-data
python3 model-runtime/training/train.py --pack '.train-data/*.lvpack.xz' --ckpt /root/lv-ckpt \
  --seconds "$SECS" --total-seconds "$TOTAL" --export "$OUT" 2>&1 | tee "$OUT/train-stdout.log"
# Fine-tuning call (fresh machine, new samples): start from the shipped int8 weights with a fresh optimizer:
#   python3 model-runtime/training/train.py --pack '.train-data/*.lvpack.xz' --ckpt /root/lv-ft \
#     --init model-runtime/assets/model/model.safetensors --seconds 290 --total-seconds 290 --lr 4e-4 --warmup-seconds 15 --export $OUT
