#!/bin/sh
# Checks, then the whole training run (corpus -> exported checkpoints); log in train/out/train.log.
set -e
cd "$(dirname "$0")/.."
/usr/bin/python3 train/check_quant.py
/usr/bin/python3 train/check_model.py
mkdir -p train/out
/usr/bin/python3 train/train.py all "$@" 2>&1 | tee train/out/train.log
