#!/usr/bin/env bash
# One-shot train + export, the default command of the `trainer` image (docker compose profile
# `train`, and the Kubernetes Job in deploy/k8s/train/).
#
#   TRAIN_CONFIG  run config (default configs/paa-ml100k.yaml, baked into the image)
#   RUN_NAME      run name (default: the config's `name`)
#   RUNS_DIR      where the run folder and checkpoint go (default /data/runs)
#   BUNDLE_DIR    the bundle folder the service loads (default /bundles/current); replaced
#                 atomically, so a running service never sees a half-written bundle
#   MAX_K         largest K the service may ask for (default 100)
#   TRITON_REPO   optional: also write a Triton model repository there
#
# Extra arguments go to `paarec train`, e.g. `paarec-train-export --set train.epochs=3`.
set -euo pipefail

config="${TRAIN_CONFIG:-configs/paa-ml100k.yaml}"
runs="${RUNS_DIR:-/data/runs}"
bundle="${BUNDLE_DIR:-/bundles/current}"
max_k="${MAX_K:-100}"
name="${RUN_NAME:-$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "${config}")}"

echo "paarec: training ${config} as run ${name} into ${runs}" >&2
paarec train -c "${config}" --set "output_dir=${runs}" --set "name=${name}" "$@"

export_args=(--out "${bundle}" --max-k "${max_k}")
if [ -n "${TRITON_REPO:-}" ]; then
  export_args+=(--triton "${TRITON_REPO}")
fi
echo "paarec: exporting ${runs}/${name}/checkpoint to ${bundle}" >&2
paarec export "${runs}/${name}/checkpoint" "${export_args[@]}"
