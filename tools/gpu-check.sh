#!/usr/bin/env bash
# The prepared GPU check (docs/full-scale.md): on a CUDA machine, from the repository root, in an environment with
# the project installed (pip install -e . with a CUDA torch). Files its numbers under reports/:
#   reports/results/sizing/affectnet-v2-cuda.json + reports/sizing.md   per-step cost and memory of affectnet-v2's
#                                                                      recognizer, hours at 1x / 5x on 1 and 8 GPUs
#   reports/maugen_gpu.json, reports/synfer_gpu.json                   the references at 512 px (bf16, random weights)
#   reports/synfer_train_gpu.json                                      SynFER's sd15 stages (text LoRA, text full,
#                                                                      adapter, fer, labeller): steps/s, peak memory
#   reports/maugen_train_gpu.json                                      MAUGen's sd15 trainer: s/step, peak memory
# Each step is independent: a failed one is reported and the others still run; the exit status says if any failed.
set -uo pipefail
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this check needs a GPU')" || exit 2
failed=0
run() { echo "== $*"; "$@" || { echo "FAILED: $*"; failed=1; }; }
run python -m bench.devtools.sizing --protocol affectnet-v2 --device cuda --gpus 1 8 --steps 20
run python -m reference.gpucheck maugen --size 512 --steps 30 --batch 4 --out reports/maugen_gpu.json
run python -m reference.gpucheck synfer --size 512 --steps 50 --batch 4 --out reports/synfer_gpu.json
run python -m reference.gpucheck synfer --train --size 512 --steps 10 --batch 4 --out reports/synfer_train_gpu.json
run python -m reference.gpucheck maugen --train --size 512 --steps 20 --batch 4 --out reports/maugen_train_gpu.json
exit $failed
