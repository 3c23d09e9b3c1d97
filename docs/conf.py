"""Sphinx configuration of the qchannel documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are
errors).  The job pages are generated from the job registry by
``_ext/qchannel_jobs.py``; the gallery scripts in ``gallery/`` run at build
time (sphinx-gallery) and their figures go into the site.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(ROOT))          # the checkout's qchannel, built in place or installed -e
os.environ.setdefault("MPLBACKEND", "Agg")

import qchannel  # noqa: E402

project = "qchannel"
author = "the qchannel developers"
copyright = "qchannel developers, BSD-3-Clause"
release = version = qchannel.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "qchannel_jobs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "gallery/*.py", "gallery/GALLERY_HEADER.rst", "**.ipynb_checkpoints"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
# README sections included under a page title start at "###"
suppress_warnings = ["myst.header"]

# API reference: numpy-style docstrings (and the plain ones of the codebase)
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

# The gallery: every docs/gallery/plot_*.py runs at build time; each script
# states its (small) run size.  Scripts write no files outside the build.
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_gallery",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "reset_modules": ("matplotlib",),
}

html_theme = "pydata_sphinx_theme"
html_title = f"qchannel {release}"
# The pages made of wide tables get the whole width.
WIDE = ["validation", "performance", "jobs/generated/*"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": {"**": ["page-toc"], **{page: [] for page in WIDE[:2]}},
}
html_sidebars = {page: [] for page in WIDE[:2]}
html_static_path = ["_static"]
html_css_files = ["qchannel.css"]
html_show_sourcelink = False
