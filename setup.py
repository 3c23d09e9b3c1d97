"""Build the compiled core: every ``qchannel/_core/*.pyx`` becomes an extension.

Compiler directives and flags are set once here.  Builds are portable by
default; ``QCHANNEL_NATIVE=1`` opts in to ``-march=native``.
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

if sys.platform == "win32":
    compile_args = ["/O2"]
else:
    compile_args = ["-O3", "-fno-math-errno"]
    if os.environ.get("QCHANNEL_NATIVE") == "1":
        compile_args.append("-march=native")

extensions = [
    Extension(
        name=path[:-4].replace(os.sep, "."),
        sources=[path],
        include_dirs=[np.get_include(), os.path.join("qchannel", "_core")],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        depends=sorted(glob.glob(os.path.join("qchannel", "_core", "*.h"))),
    )
    for path in sorted(glob.glob(os.path.join("qchannel", "_core", "*.pyx")))
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES))
