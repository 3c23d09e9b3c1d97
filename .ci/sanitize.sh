#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the compiled core
# (issue 13).  .ci/run runs it after the test suite.
#
# Builds qchannel/_core with QCHANNEL_SANITIZE=1 (-fsanitize=address,undefined
# -fno-omit-frame-pointer -O1, see setup.py) in a throwaway copy of the tree,
# so no sanitized .so is ever left in the checkout, then runs there:
#   * TESTS below: tests/_core (philox, sampling, decoherence, the kernel
#     fuzzing) and tests/postprocess (Cascade, LDPC, Toeplitz, pipeline) less
#     the 100k-frame LDPC efficiency statistics (slow; same kernels as the
#     other LDPC tests);
#   * a short simulation of every example in EXAMPLES below.
# Python itself is not instrumented: libasan is preloaded, leak detection is
# off (the interpreter keeps memory until exit by design) and Python's own
# allocator is bypassed (PYTHONMALLOC=malloc) so that ASan sees every buffer.
# Any report fails the run: the sanitizers stop the process on the first
# error, and the output of every step is searched for reports at the end
# (reports from child processes do not always reach the exit status).
# One third-party report is suppressed: sgp4's C++ extension strcpy's a
# string onto itself in sgp4init (not our code; see SUPPRESSIONS).
#
# Run time on the 2-core development machine, shared with other jobs:
# 7 minutes (build 4, tests 2.2, examples 0.8) at a load of ~2.5, 15 minutes
# at a load of ~5.5 (5 minutes of CPU in all).
#
# Usage: .ci/sanitize.sh   (PYTHON=... picks the interpreter, JOBS=... the build jobs)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
JOBS=${JOBS:-2}

# ---------------------------------------------------------------------------
# Examples to simulate, one per line: "<scenario file> [extra CLI arguments]".
# Fiber / entangled links take --pulses; free-space passes, networks and
# repeaters set their own size (all small).  Left out: micius-downlink-day
# (90 s unsanitized; the night pass covers the same kernels).
EXAMPLES=(
    "examples/decoy_bb84_50km.toml --pulses 1e6"
    "examples/eavesdropper.toml --pulses 1e6"
    "examples/ingaas_passive_25km.toml --pulses 1e6"
    "examples/snspd_150km.toml --pulses 1e6"
    "examples/bbm92_fiber.toml --pulses 1e6"
    "examples/micius_dual_downlink.toml --pulses 1e6"
    "examples/teleportation.toml --pulses 1e6"
    "examples/boaron_421km.toml --pulses 1e6"
    "examples/yuan_10km.toml --pulses 1e6"
    "examples/coexistence_cband.toml --pulses 1e6"
    "examples/kms-link.toml"
    "examples/freespace_horizontal.toml"
    "examples/micius-downlink.toml"
    "examples/micius_dual_downlink_pass.toml"
    "examples/backbone.toml"
    "examples/repeater.toml"
    "examples/routing_grid.toml"
    "examples/routing_line.toml"
    "examples/mdi_yin2016.toml --pulses 1e6"
    "examples/tf_sns_300km.toml --pulses 1e6"
)
TESTS=(tests/_core tests/postprocess tests/links tests/qrng/test_devices.py
       --deselect tests/postprocess/test_ldpc.py::test_efficiency_100k_frames)
SUPPRESSIONS='interceptor_via_fun:*sgp4init*'
# ---------------------------------------------------------------------------

LIBASAN=$(gcc -print-file-name=libasan.so)
if [ ! -e "$LIBASAN" ]; then
    echo "sanitize: libasan not found (gcc -print-file-name=libasan.so gave $LIBASAN)" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qchannel-sanitize.XXXXXX")
# SANITIZE_KEEP=1 keeps the throwaway copy (outside the checkout) for debugging
if [ "${SANITIZE_KEEP:-0}" = 1 ]; then
    echo "sanitize: keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi
START=$(date +%s)

# A copy of the sources without build outputs: the build happens there only.
tar -C "$ROOT" --exclude=.git --exclude=.venv --exclude=build --exclude='*.so' \
    --exclude='qchannel/_core/*.c' --exclude=__pycache__ --exclude=.pytest_cache \
    --exclude=.hypothesis -cf - . | tar -C "$WORK" -xf -
cd "$WORK"

# This build runs setup.py directly, outside pip's isolated build environment:
# install pyproject.toml's build requirements (Cython, setuptools, ...) first.
"$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import subprocess, sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    requires = tomllib.load(f)["build-system"]["requires"]
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *requires])
PYEOF

echo "sanitize: building qchannel/_core with ASan + UBSan in $WORK"
QCHANNEL_SANITIZE=1 "$PY" setup.py build_ext --inplace -j "$JOBS" > "$WORK/build.log" 2>&1 || {
    tail -40 "$WORK/build.log"
    echo "sanitize: build failed" >&2
    exit 1
}
echo "sanitize: build done in $(( $(date +%s) - START )) s"

echo "$SUPPRESSIONS" > "$WORK/asan.supp"
export LD_PRELOAD="$LIBASAN"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:suppressions=$WORK/asan.supp"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONDONTWRITEBYTECODE=1
LOG="$WORK/run.log"

status=0
"$PY" -c "import qchannel._core.transport as t; assert '$WORK' in t.__file__, t.__file__" || status=1

if [ $status -eq 0 ]; then
    echo "sanitize: pytest ${TESTS[*]}"
    # -s: a report printed just before the process stops must not be lost
    # in pytest's output capture
    "$PY" -m pytest -q -s -p no:cacheprovider "${TESTS[@]}" > "$LOG" 2>&1 || status=1
    tail -3 "$LOG"
fi

for entry in "${EXAMPLES[@]}"; do
    [ $status -eq 0 ] || break
    echo "sanitize: qchannel run $entry"
    # shellcheck disable=SC2086  # entry holds the file and its arguments
    "$PY" -m qchannel run $entry --json > /dev/null 2>> "$LOG" || { status=1; break; }
done

if grep -qE "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer" "$LOG"; then
    echo "sanitize: sanitizer reports:" >&2
    grep -E -A25 "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$LOG" | head -200 >&2
    status=1
elif [ $status -ne 0 ]; then
    tail -60 "$LOG" >&2
fi
echo "sanitize: $([ $status -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - START )) s"
exit $status
