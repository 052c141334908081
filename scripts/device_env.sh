# Sourced by the scripts/device_*.sh runs: install the carried wheels (.devwheels: the stack
# for the GPU machine's Python 3.12, see docs/gpu.md) into /tmp/site unless NO_DEVWHEELS is set,
# and set PY (the interpreter, default python3).
if [ -d .devwheels ] && [ -z "${NO_DEVWHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .devwheels/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
PY=${PY:-python3}
