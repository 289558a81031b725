#!/usr/bin/env bash
# Sets up everything the app needs, idempotently: system libraries (Debian/Ubuntu), .venv, requirements, the package.
#   bash scripts/setup.sh         # the app
#   bash scripts/setup.sh --dev   # the app and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  libusb-1.0-0 ocl-icd-libopencl1 pocl-opencl-icd             # FAST: USB scanners, OpenCL on the CPU
  libgomp1 libglib2.0-0 libx11-6                               # FAST: OpenMP, GLib, X11 client
  libegl1 libgl1 libopengl0 libglx-mesa0 libgl1-mesa-dri      # Mesa GL/EGL
  xvfb xauth                                                   # rendering without a screen
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3  # Qt's xcb platform
)

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c "import ensurepip" 2>/dev/null || SYSTEM_PACKAGES+=(python3-venv)

missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || { echo "python3 -m venv failed: install python3-venv (Python 3.11)"; exit 1; }
fi
req=requirements.txt
[ "${1:-}" = "--dev" ] && req=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements*.txt pyproject.toml | sha1sum | cut -c1-12)-$(basename $req)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$req"
  .venv/bin/python -m pip install -q --no-deps -e .   # the package itself (console script `echoquality`)
  touch "$stamp"
fi
echo "set up: .venv ($(.venv/bin/python --version))"
