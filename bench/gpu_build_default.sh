#!/usr/bin/env bash
# The packaged drawing encoder (prism-draw, backend/training/drawing_recipe.py) trained on one GPU, then measured.
#
#   bench/gpu_build_default.sh [OUT.pt]        (default var/runs/prism-draw-gpu/prism-draw.pt)
#
# The same recipe as `prism model build-default` on the CPU (train split of every set in ../shared/data, six
# re-published views of each drawing rendered once, 40 epochs, same losses and seed); only the device and
# the number of rendering processes differ. Budget on one GPU with 16 CPU cores: rendering about 2-3 min
# (cached in var/cache/realdata: a second run skips it), MiniLM text features under a minute, training about
# 1-2 s an epoch - well under 12 minutes. The run stops if no CUDA device is visible. The new checkpoint is
# measured beside the thumbnail baseline (bench/drawing_retrieval.py --search-table); serve it with
# PRISM_CHECKPOINT=OUT.pt and re-embed the index (`prism index reembed`).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-var/runs/prism-draw-gpu/prism-draw.pt}
DATA=${PRISM_SHARED_DATA:-../shared/data}
PY=${PYTHON:-.venv/bin/python}

"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible')"
start=$(date +%s)
"$PY" -m backend model build-default --device cuda --render-workers "$(nproc)" --data "$DATA" --out "$OUT"
echo "trained in $(( $(date +%s) - start )) s: $OUT"
"$PY" bench/drawing_retrieval.py --data "$DATA" --checkpoint "$OUT" --search-table --out "${OUT%.pt}.retrieval"
