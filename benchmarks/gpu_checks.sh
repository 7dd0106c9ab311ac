#!/usr/bin/env bash
# The device checks of a lent GPU machine, as one script (about 7 minutes on an H200, after the machine's start):
#   1. tests that need CUDA (tests/test_engine.py -k cuda);
#   2. `bench_engine.py --gpu` at batch 262144 and 1048576, per-member and shared body parameters;
#   3. `gpu_profile.py --variants` at batch 262144, shared body (per-member excitation; 2 steps per call,
#      coordinate-descent tuning, CUDA graphs);
#   4. only if OPT_S is set: the optimisation from published reflex values (data/controllers/README.md,
#      chain step 1) for OPT_S seconds on cuda and, at the same time on the same machine, on one CPU core
#      (needs cma as a wheel in .whl/; measured on an H100, benchmarks/README.md).
# Usage: OUT=folder benchmarks/gpu_checks.sh   (needs torch, xarray, scipy, pytest)
set -u
OUT=${OUT:-/tmp/twin_gpu}
OPT_S=${OPT_S:-0}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TWIN_FAST=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"
timeout 90 python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_engine.py -k cuda 2>&1 | tail -3 | tee "$OUT/pytest.txt"
timeout 250 python3 benchmarks/bench_engine.py --gpu --bodies both --batches 262144,1048576 --no-extras 2>&1 \
  | grep -v -i warn | tee "$OUT/bench_engine.txt"
timeout 250 python3 benchmarks/gpu_profile.py --variants --bodies shared --batch 262144 --steps-per-call 2 2>&1 \
  | grep -v -i warn | tee "$OUT/variants.txt"
if [ "$OPT_S" -gt 0 ]; then
  chain="--survive-duration 6 --survive-generations 400 --speed-generations 300 --effort-generations 100
         --popsize 16 --starts 1 --sigma0 0.08 --seed 7 --threads 1 --stages survive,speed,effort"
  # shellcheck disable=SC2086
  timeout "$OPT_S" python3 -m twin.control --out "$OUT/opt_cpu" --device cpu $chain >/dev/null 2>&1 &
  # shellcheck disable=SC2086
  timeout "$OPT_S" python3 -m twin.control --out "$OUT/opt_cuda" --device cuda $chain >"$OUT/opt_cuda.err" 2>&1
  wait
  for d in opt_cpu opt_cuda; do cp "$OUT/$d/log.txt" "$OUT/$d.log" 2>/dev/null; rm -rf "${OUT:?}/$d"; done
  tail -3 "$OUT/opt_cuda.log" "$OUT/opt_cpu.log" 2>/dev/null; tail -5 "$OUT/opt_cuda.err"
fi
