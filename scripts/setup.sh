#!/usr/bin/env bash
# Create .venv/ at the repository root with prioritiser, its optional dense embeddings and Ray
# extras and its test tools installed.
# The CPU build of torch goes in first: a bare torch requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e ".[embeddings,ray,test]"
.venv/bin/prioritiser --version
