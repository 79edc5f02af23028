"""Sphinx configuration: numpydoc API pages, a sphinx-gallery, offline intersphinx."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from inventories import write_inventories  # noqa: E402
from params_table import write_params_table  # noqa: E402
from size_plot import write_size_plot  # noqa: E402

import sklearn_capsnet  # noqa: E402

project = "sklearn-capsnet"
author = "the sklearn-capsnet developers"
copyright = "2026, " + author
release = version = sklearn_capsnet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax shipped with the docs: equations render offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]

autosummary_generate = True
# document our own inherited methods (CapsNetBase's fit, save, ...), not scikit-learn's or torch's
autodoc_default_options = {
    "members": True,
    "exclude-members": (
        "set_fit_request,set_partial_fit_request,set_score_request,set_transform_request,"
        "set_predict_request,set_predict_proba_request,set_decision_function_request"
    ),
    "inherited-members": (
        "BaseEstimator,ClassifierMixin,TransformerMixin,_MetadataRequester,_SetOutputMixin,Module"
    ),
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = write_inventories(HERE / "_build" / "inventories")
write_params_table(HERE / "generated" / "hyperparameters.rst")  # from the code's one table
write_size_plot(  # from the measured JSON lines
    HERE.parent / "benchmarks" / "results" / "sizes_default_cpu.jsonl",
    HERE / "generated" / "accuracy_against_size.png",
)

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "doc_module": ("sklearn_capsnet",),
    "reference_url": {"sklearn_capsnet": None},
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_title = "sklearn-capsnet"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
