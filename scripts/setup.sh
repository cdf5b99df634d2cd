#!/usr/bin/env bash
# Set up everything dcmnode needs on a Debian/Ubuntu machine: the Debian
# tools the tests talk to (DCMTK, dicom3tools, Orthanc) and a virtualenv in
# .venv with dcmnode installed in editable mode. Safe to run again. Orthanc's
# own system service is never used: the tests start Orthanc themselves, on
# free ports, with a configuration of their own.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v storescu >/dev/null 2>&1 || need+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
command -v Orthanc >/dev/null 2>&1 || need+=(orthanc)
# the dashboard test drives Debian's chromium through Playwright (no browser download)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    echo "setup: installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# all extras, so every feature is there and every test runs
.venv/bin/python -m pip install -q -e '.[all,test]'
echo "setup: done"
