#!/usr/bin/env bash
# Installs what FleetPrep needs beyond Swift, when it is missing: pkg-config, the FFmpeg 5.1
# development packages (libavformat, libavcodec, libswscale, libavutil) and the ffmpeg/ffprobe
# CLIs (the tests' oracles). Debian/Ubuntu only (apt-get); uses sudo when not root.
set -euo pipefail

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if ! pkg-config --exists libavformat libavcodec libswscale libavutil 2>/dev/null; then
    need+=(libavformat-dev libavcodec-dev libswscale-dev libavutil-dev)
fi
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: missing ${need[*]}; install them with your package manager" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "bootstrap: installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
