#!/usr/bin/env bash
# Installs what mishnet needs to build, test and run its demo, from Debian's packages.
# Idempotent: packages already installed are skipped, so a second run takes a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libdnnl-dev libopencv-dev libstb-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev nlohmann-json3-dev chromium
  python3-opencv python3-numpy python3-torch python3-pip
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all dependencies present"
fi

# pycocotools (PyPI; Debian has no package): the reference the COCO evaluation test compares with.
if ! /usr/bin/python3 -c "import pycocotools" 2>/dev/null; then
  echo "setup: installing pycocotools (pip)"
  /usr/bin/python3 -m pip install -q --break-system-packages pycocotools
fi
