"""Compiled Monte Carlo kernels: pure functions over arrays and a counter-based RNG.

No policy, no I/O and no validation beyond cheap asserts live here; the layer
above validates and hands in contiguous arrays.
"""
