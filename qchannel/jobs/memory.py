"""Memory a run will need, checked before the work.

Each job's ``check`` hook estimates the largest arrays its run allocates
(time bins of a pass, records kept for the analysis, sifted bits kept for
real error correction, ...) and calls :func:`refuse_if_too_big`, which
raises ``ValueError`` with the estimate, the memory available and the key to
change, instead of a ``MemoryError`` (or the kernel's OOM killer) after
minutes of work.

The per-item costs below were measured with ``tracemalloc`` (peak traced
memory of a whole run divided by the item count, on the examples) and
rounded up; the estimates are meant to be right within a factor of about 2.
"""
from __future__ import annotations

import os

#: Bytes per time bin of a free-space/satellite decoy-BB84 pass: channel
#: series (~30 float arrays), the segment list and the per-segment kernel
#: tables (outcome thresholds: 8 bytes per outcome, guide: 2 bytes per entry).
#: Measured 830 B per bin (active detectors, 36 outcomes, guide of 64).
PASS_BIN_BYTES = 600
#: Bytes per report bin of a pass: five int64 counters grown by concatenation
#: (x2), plus the report row (a dict) where the bin holds a time bin.
REPORT_BIN_BYTES = 80
REPORT_ROW_BYTES = 600
#: Bytes per sifted (X-X) bit kept for real error correction: both parties'
#: bits, their concatenation, the corrected frames and the kept bits.
#: Measured 7.3-10 B (cascade) and 18 B (ldpc) on 2e6-1e7 bits.
SIFTED_BIT_BYTES = {"cascade": 12, "ldpc": 24}
#: Bytes per sifted bit Eve's tally keeps (class, bit, known, guess).
EVE_BIT_BYTES = 8
#: Entanglement: per time bin (kernel tables, pair counts, per-bin report;
#: measured 590 B) and per coincidence record (slot, settings, bits, flags,
#: concatenation and analysis; measured 39 B).
ENTANGLEMENT_BIN_BYTES = 800
COINCIDENCE_BYTES = 48
#: Teleportation: per heralded event (uniforms, indices, masks; measured 120 B).
TELEPORTATION_EVENT_BYTES = 160
#: Repeater chain: per delivered pair (waiting time, state, fidelity and the
#: statistics over them; measured 98 B).
REPEATER_REALISATION_BYTES = 128
#: Decoy-BB84 theory of a pass: per time bin (series and the report row;
#: measured 710 B).
THEORY_BIN_BYTES = 1000
#: What the interpreter, NumPy and the compiled core take before a run.
BASELINE_BYTES = 200 * 2**20


def _meminfo_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room():
    """Room left under a cgroup memory limit (containers), or None."""
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_path) as f:
                limit = f.read().strip()
            with open(usage_path) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 2**60:
            return None
        return max(int(limit) - usage, 0)
    return None


def available_bytes():
    """Memory a new allocation can use now: ``psutil`` where installed, else
    ``/proc/meminfo`` MemAvailable, else ``os.sysconf`` free pages; the room
    under a cgroup limit if that is smaller.  None where nothing can tell."""
    avail = None
    try:
        import psutil

        avail = int(psutil.virtual_memory().available)
    except (ImportError, OSError, RuntimeError, AttributeError):
        avail = _meminfo_available()   # not installed (or no /proc for it)
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    room = _cgroup_room()
    if room is not None:
        avail = room if avail is None else min(avail, room)
    return avail


def fmt_bytes(n):
    """A byte count for a message: 1.2 GB, 340 MB, ..."""
    n = float(n)
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def refuse_if_too_big(estimate, what, change):
    """ValueError if a run needing about ``estimate`` bytes (``what`` says
    for what) does not fit in the memory available now; ``change`` names the
    keys that make it smaller."""
    estimate = float(estimate) + BASELINE_BYTES
    avail = available_bytes()
    if avail is not None and estimate > avail:
        raise ValueError(f"this run needs about {fmt_bytes(estimate)} of memory ({what}), "
                         f"{estimate / avail:.3g} times the {fmt_bytes(avail)} available: "
                         f"{change}")
    return estimate
