"""Sphinx configuration: the documentation site (``make docs``; built in CI with warnings as errors).

The source folder is the repository root, so the guides in docs/ and the notebooks in notebooks/
are rendered from where they live; nothing is copied.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "stdp-toolkit"
author = "stdp-toolkit developers"
root_doc = "docs/index"
include_patterns = ["docs/*.md", "notebooks/*.ipynb"]
exclude_patterns = ["_build", ".venv*", "runs"]
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
nb_execution_mode = "off"            # the notebooks are executed by the test suite, not by the docs build
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "description"
autodoc_inherit_docstrings = False   # torch.autograd.Function.forward's own text links into the PyTorch docs
html_theme = "alabaster"
html_title = "stdp-toolkit"
# links from the guides to files of the repository (configs, bench scripts) are not pages of the site
suppress_warnings = ["myst.xref_missing"]
