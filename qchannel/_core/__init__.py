"""Compiled Monte Carlo kernels: pure functions over arrays and a counter-based RNG.

No policy and no I/O live here.  Every entry point checks its arguments
before it touches memory (``checks.pxd``: ValueError naming the argument, also
under ``python -O``); the layer above derives them and checks the physics.
"""
