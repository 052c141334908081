#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment and install the whole stack.
#
# Usage: bash scripts/setup_env.sh            (called by `make demo` / `make test`)
#
# Environment variables:
#   MTKIT_VENV        where the venv lives (default: .venv in the repository root)
#   MTKIT_PYTHON      interpreter that creates the venv (default: python3.11, else python3)
#   MTKIT_WHEELHOUSE  folder with a prebuilt mmcv 2.1.0 wheel; default ../shared/wheels/cpu-py311
#                     when it exists. Set to "none" to force the build from source.
#   MTKIT_CONSTRAINTS pip constraints of every package the stack pulls in (default
#                     scripts/constraints.txt: the versions the model zoo is measured with).
#                     Set to "none" to let pip resolve the newest releases instead.
#
# The script is idempotent: once a stamp records that this exact setup.cfg and this script
# were installed into the venv, and mmcv.ops still loads, it exits in about a second.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${MTKIT_VENV:-$root/.venv}
py_bin=${MTKIT_PYTHON:-$(command -v python3.11 || command -v python3)}
default_wh="$root/../shared/wheels/cpu-py311"
if [ -z "${MTKIT_WHEELHOUSE:-}" ] && [ -d "$default_wh" ]; then
  wheelhouse=$(cd "$default_wh" && pwd)
else
  wheelhouse=${MTKIT_WHEELHOUSE:-none}
fi

constraints=${MTKIT_CONSTRAINTS:-$root/scripts/constraints.txt}
if [ "$constraints" = "none" ]; then
  pin=()
else
  [ -f "$constraints" ] || { printf '[mtkit setup] MTKIT_CONSTRAINTS=%s: no such file\n' "$constraints" >&2; exit 2; }
  pin=(-c "$constraints")
fi

TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0

log() { printf '[mtkit setup] %s\n' "$*" >&2; }

stamp_key() {
  # Anything that changes what is installed must change the key.
  { cat "$root/setup.cfg" "$root/scripts/setup_env.sh"
    [ "$constraints" = "none" ] && echo none || cat "$constraints"; } | sha256sum | cut -d' ' -f1
}

vpy="$venv/bin/python"

mmcv_ops_ok() {
  # A wheel built against another torch imports but fails on the ops' undefined symbols.
  "$vpy" - <<'PY' >/dev/null 2>&1
import torch
from mmcv.ops import nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)[1]
assert keep.tolist() == [0]
PY
}

stamp="$venv/.mtkit-installed"
key=$(stamp_key)
if [ -x "$vpy" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && mmcv_ops_ok; then
  exit 0
fi

if [ ! -x "$vpy" ]; then
  log "creating virtual environment $venv with $py_bin"
  "$py_bin" -m venv "$venv"
fi
pip() { "$vpy" -m pip --disable-pip-version-check "$@"; }

# setuptools: torch 2.13 needs >= 77.0.3; MMEngine's `mmdet::`/`mmseg::` config lookup needs
# pkg_resources, which setuptools 81 removed. The mmcv source build pins < 70 for its duration.
RUNTIME_SETUPTOOLS="setuptools>=77.0.3,<81"
pip install -q "$RUNTIME_SETUPTOOLS" wheel

if "$vpy" -c "import torch" >/dev/null 2>&1; then
  log "keeping the installed torch $("$vpy" -c 'import torch; print(torch.__version__)')"
else
  log "installing torch==$TORCH_VERSION"
  pip install -q "torch==$TORCH_VERSION"
fi

log "installing mtkit and its dependencies (editable, extras det,seg,tta,dev)"
pip install -q -e "$root[det,seg,tta,dev]" "${pin[@]}"

install_mmcv_from_source() {
  log "building mmcv==$MMCV_VERSION with ops from source (several minutes on 2 cores)"
  pip uninstall -q -y mmcv >/dev/null 2>&1 || true
  pip install -q "setuptools<70"   # mmcv 2.1.0's setup.py needs the old pkg_resources API
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} pip install --no-cache-dir \
    --no-build-isolation --no-binary mmcv --no-deps "mmcv==$MMCV_VERSION"
  pip install -q "$RUNTIME_SETUPTOOLS"
}

if mmcv_ops_ok; then
  log "mmcv.ops already works"
elif [ "$wheelhouse" != "none" ] && ls "$wheelhouse"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
  log "installing mmcv==$MMCV_VERSION from wheelhouse $wheelhouse"
  pip install -q --no-index --no-deps --force-reinstall --find-links "$wheelhouse" "mmcv==$MMCV_VERSION" || true
  if ! mmcv_ops_ok; then
    log "the wheelhouse mmcv does not load against this torch (wrong ABI?): rebuilding from source"
    install_mmcv_from_source
  fi
else
  install_mmcv_from_source
fi
# mmcv's own runtime requirements (installed --no-deps above so pip never tries a source build).
pip install -q addict packaging Pillow pyyaml yapf "${pin[@]}"

if ! mmcv_ops_ok; then
  log "ERROR: mmcv.ops still does not load after installation; see the output above."
  exit 1
fi
echo "$key" > "$stamp"
log "environment ready: $venv"
