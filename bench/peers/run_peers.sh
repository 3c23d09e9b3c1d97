#!/bin/bash
# qchannel vs SeQUeNCe (PyPI package "sequence") on a decoy-free BB84 fiber
# link at 10 km and 50 km: pulses/s and sifted key bits/s side by side.
# Makes its own virtual environment for SeQUeNCe (PEERS_VENV, default
# ~/.cache/qchannel-peers-venv, outside the repo); qchannel runs with the python that has it
# (QCHANNEL_PYTHON, default: python3 on PATH; build it first with
# `python setup.py build_ext --inplace`).  Not part of CI: it needs PyPI and
# takes a few minutes (SeQUeNCe simulates ~5e4 pulses/s).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
QCHANNEL_PYTHON=${QCHANNEL_PYTHON:-$(command -v python3)}
PEERS_VENV=${PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/qchannel-peers-venv}
SEQUENCE_SPEC=${SEQUENCE_SPEC:-sequence}   # e.g. sequence==0.8.5

if [ ! -x "$PEERS_VENV/bin/python" ]; then
    "$QCHANNEL_PYTHON" -m venv "$PEERS_VENV"
    "$PEERS_VENV/bin/pip" install -q --upgrade pip
fi
"$PEERS_VENV/bin/pip" install -q "$SEQUENCE_SPEC"
echo "SeQUeNCe $("$PEERS_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("sequence"))')," \
     "qchannel $("$QCHANNEL_PYTHON" -c 'import sys; sys.path.insert(0, "'"$HERE/../.."'"); import qchannel; print(qchannel.__version__)')," \
     "$(nproc) cores"
exec "$PEERS_VENV/bin/python" "$HERE/compare_sequence.py" --qchannel-python "$QCHANNEL_PYTHON" "$@"
