#!/bin/sh
# Entrypoint of the paarec service images: wait (bounded) for the model bundle that
# PAAREC_BUNDLE_PATH points at, then exec the command (paarec-serve by default).
#
# The service refuses to start without a bundle, and in docker compose the bundle volume may
# still be empty while the trainer (profile `train`) is producing it. Waiting here works both
# when the bundle already exists (no wait at all) and when it is being written: the exporter
# swaps the finished folder into place atomically, so bundle.json appears only when complete.
# BUNDLE_WAIT_S (default 600; 0 = do not wait) bounds the wait; on timeout the container exits 1
# and the restart policy (compose) or the kubelet (Kubernetes) tries again.
set -eu

bundle="${PAAREC_BUNDLE_PATH:-artifacts/bundle}"
wait_s="${BUNDLE_WAIT_S:-600}"

if [ ! -f "${bundle}/bundle.json" ] && [ "${wait_s}" -gt 0 ]; then
  echo "paarec: waiting up to ${wait_s}s for a model bundle at ${bundle}" \
    "(train one with: docker compose --profile train run --rm trainer)" >&2
  waited=0
  while [ ! -f "${bundle}/bundle.json" ]; do
    if [ "${waited}" -ge "${wait_s}" ]; then
      echo "paarec: error: no bundle.json under ${bundle} after ${wait_s}s" >&2
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
  echo "paarec: bundle found at ${bundle}" >&2
fi

exec "$@"
