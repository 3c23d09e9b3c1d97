"""Build the compiled core: every ``qchannel/_core/*.pyx`` becomes an extension.

Compiler directives and flags are set once here.  Builds are portable by
default; ``QCHANNEL_NATIVE=1`` opts in to ``-march=native``, and
``QCHANNEL_SANITIZE=1`` builds with AddressSanitizer and
UndefinedBehaviorSanitizer (``-O1``; for ``.ci/sanitize.sh``, which also sets
the run-time environment a sanitized extension needs under a plain Python).
"""
import glob
import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
}

link_args = []
if sys.platform == "win32":
    compile_args = ["/O2"]
else:
    # No FMA contraction: a fused a * b + c rounds once, so a build with FMA
    # (-march=native) would give other bits than the portable one.
    compile_args = ["-O3", "-fno-math-errno", "-ffp-contract=off"]
    if os.environ.get("QCHANNEL_NATIVE") == "1":
        compile_args.append("-march=native")
    if os.environ.get("QCHANNEL_SANITIZE") == "1":
        sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        # -fno-wrapv: Python's CFLAGS carry -fwrapv, which hides signed overflow from UBSan
        compile_args = ["-O1", "-g", "-fno-math-errno", "-fno-wrapv"] + sanitize
        link_args = sanitize

extensions = [
    Extension(
        name=path[:-4].replace(os.sep, "."),
        sources=[path],
        include_dirs=[np.get_include(), os.path.join("qchannel", "_core")],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        depends=sorted(glob.glob(os.path.join("qchannel", "_core", "*.h"))),
    )
    for path in sorted(glob.glob(os.path.join("qchannel", "_core", "*.pyx")))
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES))
