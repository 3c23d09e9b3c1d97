"""Helpers shared by the closed forms: the binary entropy and array checks.

:func:`h2` is the one binary entropy of qchannel: the Monte Carlo's finite key,
error correction and network code import it from here.
"""
import numpy as np

from qchannel.params import check_prob, check_real

__all__ = ["h2", "check_array", "check_dark_count_prob", "safe_div", "as_scalar"]


def h2(x):
    """Binary entropy ``-x log2 x - (1-x) log2(1-x)`` in bits, vectorised;
    h2(0) = h2(1) = 0 and inputs outside [0, 1] count as the nearest end.

    Scalars and arrays go through the same :func:`numpy.log2`, so a value gets
    the same entropy whoever asks (``math.log2`` differs from NumPy's SIMD
    logarithm in the last bit for about 0.1 % of arguments)."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -x * np.log2(x) - (1.0 - x) * np.log2(1.0 - x)
    out = np.where((x <= 0.0) | (x >= 1.0), 0.0, out)
    return as_scalar(out)


# --------------------------------------------------------------------------
# validation helpers (messages come from qchannel.params)
# --------------------------------------------------------------------------
def check_array(name, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """A real scalar (-> float) or array (-> float ndarray), each entry checked
    with :func:`qchannel.params.check_real` so the message names the entry."""
    if np.ndim(value) == 0:
        if isinstance(value, np.ndarray):
            value = value.item()
        return check_real(name, value, lo, hi, lo_open, hi_open)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r} must be a number or an array of numbers") from None
    if np.asarray(value).dtype == bool:
        raise ValueError(f"{name} = {value!r} must be a number or an array of numbers")
    flat = arr.ravel()
    bad = ~np.isfinite(flat)
    if lo is not None:
        bad |= (flat < lo) | ((flat == lo) if lo_open else False)
    if hi is not None:
        bad |= (flat > hi) | ((flat == hi) if hi_open else False)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        idx = np.unravel_index(i, arr.shape)
        check_real(f"{name}[{', '.join(map(str, idx))}]", float(flat[i]), lo, hi, lo_open, hi_open)
    return arr


def check_dark_count_prob(name, value):
    value = check_prob(name, value)
    if value >= 1.0:
        raise ValueError(f"{name} = {value} is out of range: must be in [0, 1)")
    return value


def safe_div(num, den):
    """num/den with 0/0 -> nan and no warnings."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out[()] if out.ndim == 0 else out


def as_scalar(x):
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x

