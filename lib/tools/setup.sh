#!/bin/sh
# lib/tools/: this script, the project-local Jupyter kernelspec (jupyter/, found through
# JUPYTER_PATH), the Python helpers (run_notebook.py, bench_torch.py). Outside the import stages.
# Sets up everything the project needs; idempotent and quick when already done.
#   - npm dependencies (Deno itself, TensorFlow.js, plotly.js, arquero, d3-regression),
#     pinned in package.json / package-lock.json, installed only when the lock changed;
#   - Debian packages (Jupyter to run notebooks headless, the classic Notebook for `deno task
#     lab`, Chromium for static figures, Mesa's Vulkan drivers for a CPU WebGPU adapter, OpenBLAS
#     and oneDNN for the native matrix products of lib/runtime/native_kernels.ts, and PyTorch for
#     the trainer-parity check of lib/bench/parity.ts and the bench), installed only when
#     missing.
# Nothing is written outside the repository except Debian's packages.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

stamp=node_modules/.setup-stamp
if [ ! -x node_modules/.bin/deno ] || [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
fi

# the interactive figures (figures/*.html) load one local copy of plotly.js, taken from the pinned
# npm package; it is plotly's code, so it is copied here rather than committed
plotly=node_modules/plotly.js-dist-min/plotly.min.js
cmp -s "$plotly" figures/plotly.min.js 2>/dev/null || cp "$plotly" figures/plotly.min.js

need=""
for pkg in jupyter-nbconvert jupyter-notebook python3-nbclient python3-ipykernel chromium \
  fonts-dejavu-core mesa-vulkan-drivers libvulkan1 libopenblas0-pthread libdnnl2 \
  python3-torch; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
  echo "setup: installing Debian packages:$need" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need >&2
fi
