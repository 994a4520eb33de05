# aca-bench: the benchmark as a CUDA container image.
#
#   docker build -t aca-bench .
#   docker run --gpus all -v "$PWD/out:/out" aca-bench            # standard suite on the GPU
#   docker run -v "$PWD/out:/out" aca-bench --suite quick          # no GPU: runs on the CPU and says so
#   docker run aca-bench --help
#
# Base: NVIDIA's CUDA "base" image (CUDA 13.0 driver contract, Ubuntu 22.04). The CUDA libraries
# themselves (cuBLAS, cuDNN, NCCL, ...) come with the pinned torch wheel as nvidia-* packages, so
# the image holds exactly one copy of them, the one torch was built against. Any base with
# python3.11 (or apt to install it) works: tests/docker/smoke.sh passes a local Debian bookworm
# image built with debootstrap.
#
# Build arguments (all optional):
#   BASE_IMAGE        base image (default below)
#   TORCH_VERSION     torch pin (must agree with pyproject.toml)      TORCHVISION_VERSION likewise
#   PIP_VERSION       pip used inside the image
#   FETCH_DATA=1      fetch full MNIST and the ResNet-50 weights at build time (needs internet)
#   FETCH_WATERBIRDS=0  fetch WaterBirds at build time (large; off by default)
#   PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / PIP_TRUSTED_HOST / PIP_FIND_LINKS
#                     where pip looks for wheels at build time (a mirror); not kept in the image env
#
# Layer order: system Python -> user -> torch (GBs, changes only with TORCH_VERSION) -> the other
# pinned dependencies (change with requirements.lock/pyproject.toml) -> source (a code change
# rebuilds only from here) -> data.

ARG BASE_IMAGE=nvidia/cuda:13.0.0-base-ubuntu22.04
FROM ${BASE_IMAGE}

# --- system: Python 3.11 with venv (already in the local debootstrap base; from apt otherwise) ----
ARG DEBIAN_FRONTEND=noninteractive
RUN if python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 && [ -e /etc/ssl/certs/ca-certificates.crt ]; then \
        echo "python3.11 + venv present in the base image"; \
    else \
        apt-get update \
        && apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3.11 --version

# --- the non-root user; it owns the venv, the source and the output folder ------------------------
# (`docker run --user UID:GID` works too: everything is world-readable, the feature cache writable.)
ARG USER_UID=1000
RUN (getent passwd "${USER_UID}" | cut -d: -f1 | xargs -r userdel -r 2>/dev/null || true) \
    && useradd --create-home --uid "${USER_UID}" --user-group --shell /bin/bash aca \
    && mkdir -p /opt/venv /opt/aca-bench /data/features /algorithms /out \
    && chown aca:aca /opt/venv /opt/aca-bench /data /algorithms /out \
    && chmod 1777 /data/features

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

USER aca

# Build-time pip sources (a wheel mirror, e.g. the smoke test's local one). ARGs reach RUN as env
# variables but are not baked into the image's environment.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_FIND_LINKS
ARG PIP_VERSION=25.3
RUN python3.11 -m venv /opt/venv && pip install --quiet "pip==${PIP_VERSION}"

# --- torch: the big layer (torch + CUDA wheels), keyed only on the pins ------------------------------
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
RUN pip install --progress-bar off "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" \
    && python -c "import torch, torchvision; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| torchvision', torchvision.__version__)"

# --- the other dependencies, pinned: requirements.lock when the repo has one, else pyproject.toml ---
# (pyproject.toml is copied for its dependency list only; the source comes later.)
COPY --chown=aca:aca pyproject.toml requirements*.lock /tmp/deps/
RUN cd /tmp/deps \
    && if [ -f requirements.lock ]; then \
           echo "installing pinned dependencies from requirements.lock"; \
           pip install --progress-bar off -r requirements.lock \
               "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"; \
       else \
           echo "no requirements.lock: installing the dependency ranges of pyproject.toml"; \
           python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > deps.txt \
           && pip install --progress-bar off -r deps.txt \
               "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"; \
       fi \
    && pip install --quiet "setuptools>=77" \
    && rm -rf /tmp/deps

# --- runtime settings (after the heavy layers, so editing them rebuilds little) -------------------
# Data paths (read by tasks/ and `aca-bench data fetch`), extra registry entries, the output folder
# and suite run_benchmark.sh defaults to, and the GPU request for the NVIDIA container runtime.
ENV PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    TORCH_HOME=/data/torch \
    ACA_BENCH_MNIST_DIR=/data/mnist \
    ACA_BENCH_WATERBIRDS_DIR=/data/waterbirds \
    ACA_BENCH_FEATURE_CACHE=/data/features \
    ACA_BENCH_REGISTRY=/algorithms \
    ACA_BENCH_OUT=/out \
    ACA_BENCH_SUITE=standard \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# --- the project source (see .dockerignore); editable, so algorithms can be added in place ---------
# Extra algorithms: mount a folder of registry entries (YAML + module) at /algorithms.
WORKDIR /opt/aca-bench
COPY --chown=aca:aca . /opt/aca-bench
ARG GIT_COMMIT=
ENV ACA_BENCH_GIT_COMMIT=${GIT_COMMIT}
RUN pip install --no-deps --no-build-isolation --quiet -e /opt/aca-bench \
    && chmod +x /opt/aca-bench/run_benchmark.sh \
    && aca-bench --help > /dev/null \
    && pip freeze --exclude-editable > /opt/venv/aca-bench-freeze.txt

# --- data, fetched at build time where the internet exists -------------------------------------------
# The embedded default suite needs none of it.
ARG FETCH_DATA=1
ARG FETCH_WATERBIRDS=0
RUN if [ "${FETCH_DATA}" = "1" ]; then \
        aca-bench data fetch mnist --dir /data/mnist \
        && aca-bench data fetch resnet50; \
    else echo "FETCH_DATA=${FETCH_DATA}: skipping MNIST and ResNet-50 weights"; fi \
    && if [ "${FETCH_WATERBIRDS}" = "1" ]; then \
        aca-bench data fetch waterbirds --dir /data/waterbirds; \
    else echo "FETCH_WATERBIRDS=${FETCH_WATERBIRDS}: skipping WaterBirds"; fi

WORKDIR /out
ENTRYPOINT ["/opt/aca-bench/run_benchmark.sh"]
CMD []
