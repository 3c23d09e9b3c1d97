"""Validation helpers shared by every parameter object.

Every check raises ``ValueError`` whose message names the parameter, the value
and the allowed range, e.g. ``channel.length_km = -1.0 is out of range: must be
>= 0``.  The CLI prints that message as one line and exits with status 2.
"""
import math
from numbers import Integral, Real

import numpy as np


def _fmt_range(lo, hi, lo_open, hi_open):
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return "finite"


def _show(value):
    """A value for a message: its repr, a huge integer abbreviated."""
    if isinstance(value, Integral) and not isinstance(value, bool) and abs(value) >= 10**21:
        digits = int(abs(value).bit_length() * math.log10(2)) + 1
        return f"{'-' if value < 0 else ''}~10^{digits - 1}"
    return repr(value)


def check_real(name, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """A finite real number within [lo, hi] (ends open on request); returns float."""
    allowed = _fmt_range(lo, hi, lo_open, hi_open)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} = {value!r} must be a number {allowed}")
    try:
        value = float(value)
    except OverflowError:   # an integer beyond the float range
        raise ValueError(f"{name} = {_show(value)} must be a finite number {allowed}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} = {value} must be a finite number {allowed}")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ValueError(f"{name} = {value} is out of range: must be {allowed}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise ValueError(f"{name} = {value} is out of range: must be {allowed}")
    return value


def check_prob(name, value, lo_open=False, hi_open=False):
    """A probability in [0, 1]."""
    return check_real(name, value, 0.0, 1.0, lo_open, hi_open)


def check_int(name, value, lo=None, hi=None):
    """An integer within [lo, hi].  Floats with an integral value (1e10) are accepted."""
    allowed = _fmt_range(lo, hi, False, False)
    given = value
    if isinstance(value, bool):
        raise ValueError(f"{name} = {value!r} must be an integer {allowed}")
    if isinstance(value, Real) and not isinstance(value, Integral):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{name} = {value!r} must be an integer {allowed}")
        value = int(value)
    if not isinstance(value, Integral):
        raise ValueError(f"{name} = {value!r} must be an integer {allowed}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} = {_show(given)} is out of range: must be {allowed}")
    return value


def check_choice(name, value, choices):
    """One of a fixed set of strings."""
    if value not in choices:
        raise ValueError(f"{name} = {value!r} must be one of {', '.join(map(repr, choices))}")
    return value


def check_real_list(name, values, lo=None, hi=None, min_len=1, max_len=None):
    """A list of finite reals, each within [lo, hi]; returns a tuple of floats."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise ValueError(f"{name} = {values!r} must be a list of numbers")
    if len(values) < min_len or (max_len is not None and len(values) > max_len):
        size = f"{min_len} to {max_len}" if max_len is not None else f"at least {min_len}"
        raise ValueError(f"{name} = {list(values)!r} must have {size} entries")
    return tuple(check_real(f"{name}[{i}]", v, lo, hi) for i, v in enumerate(values))


def check_bits(name, value):
    """A non-empty 1-D array of bits (bool, or any integer dtype holding only
    0 and 1); returns it as a contiguous uint8 array (the input when it
    already is one)."""
    a = np.asarray(value)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of 0/1 bits, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must hold at least 1 bit")
    if a.dtype == np.bool_:
        return np.ascontiguousarray(a, dtype=np.uint8)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} has dtype {a.dtype}: bits must be integers 0/1 (or bool)")
    if a.max() > 1 or (a.dtype.kind == "i" and a.min() < 0):
        i = int(np.flatnonzero((a < 0) | (a > 1))[0])
        raise ValueError(f"{name}[{i}] = {a[i]} is out of range: bits must be 0 or 1")
    return np.ascontiguousarray(a, dtype=np.uint8)


def check_distribution(name, values, n, of):
    """A list of ``n`` probabilities (one per entry of the list named ``of``)
    that sums to 1; returns a tuple of floats."""
    probs = check_real_list(name, values, 0.0, 1.0)
    if len(probs) != n:
        raise ValueError(f"{name} has {len(probs)} entries but {of} has {n}: they must match")
    if abs(sum(probs) - 1.0) > 1e-9:
        raise ValueError(f"{name} = {list(probs)} must sum to 1 (they sum to {sum(probs):.12g})")
    return probs


def check_table(section, value):
    """A scenario section (a TOML table); returns it."""
    if not isinstance(value, dict):
        raise ValueError(f"{section} must be a table of keys ([{section}]), not {value!r}")
    return value


def key_name(key):
    """A key as a message shows it: a plain name as is, anything else (a
    newline, a space, a number from Python) quoted."""
    return key if isinstance(key, str) and key.replace("-", "_").isidentifier() else repr(key)


def reject_unknown(section, given, allowed):
    """Raise for keys of a scenario section that the section does not define."""
    unknown = sorted(set(given) - set(allowed), key=str)
    if unknown:
        raise ValueError(f"{section}.{key_name(unknown[0])} is not a known key; allowed keys: "
                         f"{', '.join(sorted(allowed))}")


def parse_number(text):
    """A command-line number: an int where the text is one, else a float
    (``1e10`` is the float 1e10, which ``check_int`` accepts as integral)."""
    import argparse

    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
