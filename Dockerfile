# syntax=docker/dockerfile:1.7
#
# paarec images (BuildKit required: DOCKER_BUILDKIT=1, the default since Docker 23).
#
#   service      GPU inference API: CUDA runtime + cuDNN base, onnxruntime-gpu, no torch
#   service-cpu  CPU inference API: python:3.11-slim, plain onnxruntime, no torch
#   trainer      torch (CPU wheel by default) + onnx: `paarec train` and `paarec export`
#   loadtest     locust + load_tests/ (the compose `load` profile)
#
#   docker build --target service     -t paarec/service:gpu .
#   docker build --target service-cpu -t paarec/service:cpu .
#   docker build --target trainer     -t paarec/trainer:latest .
#
# Every runtime stage runs as the numeric user 10001:10001 so that Kubernetes'
# runAsNonRoot can verify it, and so that the trainer and the service agree on the owner of
# the shared bundle volume.
#
# CUDA_IMAGE and ORT_GPU_VERSION must move together: onnxruntime-gpu on PyPI is built for
# CUDA 12 + cuDNN 9 up to 1.26.x and for CUDA 13 + cuDNN 9 from 1.27.0 on. An unpinned
# `onnxruntime-gpu` would pull a CUDA 13 build onto a CUDA 12 image, where the CUDA provider
# fails to load and ONNX Runtime silently runs on the CPU; the service stage therefore pins
# the version and checks at build time that the provider's libraries resolve in the image.
# CUDA 13 hosts (driver >= 580):
#   --build-arg CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 --build-arg ORT_GPU_VERSION=1.31.1
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------------------------
# wheel: the paarec distribution itself (training, export and service packages; pure Python).
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
# README.m[d]: pyproject names README.md; the glob keeps the build working before it exists.
COPY pyproject.toml README.m[d] ./
COPY training ./training
COPY export ./export
COPY service ./service
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------------
# py-base: python:3.11-slim with the unprivileged user and an empty virtualenv.
FROM ${PYTHON_IMAGE} AS py-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin app \
    && python -m venv /opt/venv \
    && mkdir -p /app \
    && chown 10001:10001 /app
WORKDIR /app

# ---------------------------------------------------------------------------------------------
# service-cpu: `.[serve]` as declared (plain onnxruntime), nothing else.
FROM py-base AS service-cpu
# DL3013: the one unpinned requirement is the project's own wheel (ranges from pyproject.toml).
# hadolint ignore=DL3013
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    whl="$(ls /wheels/paarec-*.whl)" \
    && pip install "${whl}[serve]" \
    && python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)" \
    && python -c "import onnxruntime, service.main; print('onnxruntime', onnxruntime.__version__)"
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/paarec-entrypoint
RUN mkdir -p /bundles && chown 10001:10001 /bundles
ENV PAAREC_HOST=0.0.0.0 \
    PAAREC_PORT=8000 \
    PAAREC_BUNDLE_PATH=/bundles/current \
    PAAREC_PROVIDER_PREFERENCE=cpu
USER 10001:10001
EXPOSE 8000
# Readiness (model loaded and Redis answering); urllib raises on 503, so the exit code is 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PAAREC_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["paarec-entrypoint"]
CMD ["paarec-serve"]

# ---------------------------------------------------------------------------------------------
# gpu-base: the CUDA runtime + cuDNN image with the distribution's Python (3.12 on Ubuntu 24.04;
# Ubuntu 22.04 ships 3.10, below the project's requires-python >= 3.11).
FROM ${CUDA_IMAGE} AS gpu-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin app \
    && mkdir -p /app /bundles \
    && chown 10001:10001 /app /bundles
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app

# ---------------------------------------------------------------------------------------------
# build-gpu: `.[serve]` with onnxruntime swapped for onnxruntime-gpu.
#
# The `serve` extra lists the CPU `onnxruntime`, and `gpu` adds `onnxruntime-gpu`. Both
# distributions install the same `onnxruntime` import package, so they must never share an
# environment: whichever is installed last overwrites the other's files, and uninstalling
# one later deletes files the other needs. pip has no "install this extra minus one package",
# so: install `.[serve]`, uninstall the CPU onnxruntime, then install the pinned GPU build
# into the now-empty slot. (`pip check` would report paarec's unmet `onnxruntime`
# requirement; that is expected here and is why it is not run.)
FROM gpu-base AS build-gpu
ARG ORT_GPU_VERSION=1.26.0
# hadolint ignore=DL3013
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/venv \
    && whl="$(ls /wheels/paarec-*.whl)" \
    && pip install "${whl}[serve]" \
    && pip uninstall -y onnxruntime \
    && pip install "onnxruntime-gpu==${ORT_GPU_VERSION}" \
    && python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)" \
    && python -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"

# ---------------------------------------------------------------------------------------------
# service: the GPU inference API. Run with `--gpus all` (NVIDIA Container Toolkit) or the
# compose GPU reservation; without a GPU it still serves, on the CPU provider (logged).
FROM gpu-base AS service
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG CUDA_IMAGE
ARG ORT_GPU_VERSION=1.26.0
COPY --from=build-gpu /opt/venv /opt/venv
# Fail the build when the CUDA provider's libraries (cuBLAS, cuFFT, cuDNN, ...) do not resolve
# in this image, i.e. when ORT_GPU_VERSION was built for another CUDA major than CUDA_IMAGE.
# libcuda.so.1 is the driver library, mounted at run time by the container toolkit.
RUN lib="$(python -c "import onnxruntime, pathlib; print(pathlib.Path(onnxruntime.__file__).parent / 'capi' / 'libonnxruntime_providers_cuda.so')")" \
    && missing="$(ldd "${lib}" | grep 'not found' | grep -v 'libcuda\.so' || true)" \
    && if [ -n "${missing}" ]; then \
        echo "onnxruntime-gpu ${ORT_GPU_VERSION} does not match ${CUDA_IMAGE}:" >&2; \
        echo "${missing}" >&2; \
        exit 1; \
    fi
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/paarec-entrypoint
ENV PAAREC_HOST=0.0.0.0 \
    PAAREC_PORT=8000 \
    PAAREC_BUNDLE_PATH=/bundles/current \
    PAAREC_PROVIDER_PREFERENCE=cuda
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PAAREC_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["paarec-entrypoint"]
CMD ["paarec-serve"]

# ---------------------------------------------------------------------------------------------
# trainer: torch + `.[train,export]`; one-shot train + export by default.
# TORCH_INDEX switches the torch build, e.g. https://download.pytorch.org/whl/cu128 for CUDA.
# It is an *extra* index: with a `==X.Y.Z` pin pip prefers the local `+cpu` / `+cuXXX` build
# (a higher version under PEP 440) over PyPI's default CUDA wheel, as the Makefile does.
FROM py-base AS trainer
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install "torch==${TORCH_VERSION}" --extra-index-url "${TORCH_INDEX}"
# hadolint ignore=DL3013
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    whl="$(ls /wheels/paarec-*.whl)" \
    && pip install "${whl}[train,export]" --extra-index-url "${TORCH_INDEX}" \
    && paarec --help >/dev/null
COPY configs ./configs
COPY --chmod=0755 scripts/docker-train.sh /usr/local/bin/paarec-train-export
RUN mkdir -p /bundles /data/runs /data/cache \
    && chown -R 10001:10001 /bundles /data
# HOME and MPLCONFIGDIR in /tmp: the Kubernetes Job runs with a read-only root filesystem.
ENV PAAREC_CACHE_DIR=/data/cache \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    TRAIN_CONFIG=configs/paa-ml100k.yaml \
    RUNS_DIR=/data/runs \
    BUNDLE_DIR=/bundles/current
USER 10001:10001
CMD ["paarec-train-export"]

# ---------------------------------------------------------------------------------------------
# loadtest: locust with the project's load_tests/ (headless in the compose `load` profile).
FROM py-base AS loadtest
# hadolint ignore=DL3013
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    whl="$(ls /wheels/paarec-*.whl)" \
    && pip install "${whl}[load]"
COPY load_tests ./load_tests
RUN mkdir -p /results && chown 10001:10001 /results
USER 10001:10001
ENTRYPOINT ["locust"]
CMD ["--help"]
