"""Sphinx settings shared by the three editions of the book (`make book`, helpers/tools/book.py).

The tool writes each edition's sources (prepared copies of the committed notebooks, the teacher guide
and the results page) and runs Sphinx on them with this folder as the configuration folder, passing
the edition's language and title with -D. Nothing is executed and nothing is loaded from the network:
MathJax is served from the site itself and the ipywidgets embed scripts are switched off.
"""

import os

# Set by helpers/tools/book.py: a folder holding mathjax/ (the script and its fonts) to serve locally.
MATHJAX = os.environ.get("TRAINING_FLOW_BOOK_MATHJAX")
if not MATHJAX:
    raise RuntimeError("本は make book で作ります(MathJax の場所が渡されていません)。\n"
                       "Build the book with make book (the MathJax folder was not given).")

project = "学習の流れ / The Training Flow"
author = "The Training Flow"
copyright = "The Training Flow"  # noqa: A001  (a Sphinx setting)
language = "ja"  # Japanese search splits words with TinySegmenter; -D language=en for the English edition

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The committed outputs are the book: never re-run a notebook.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no require.js or widget manager from a CDN (the widget views are dropped)
nb_output_stderr = "show"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# MathJax 3 from the site's own _static/mathjax/ (copied from the sphinx-mathjax-offline package).
mathjax_path = "mathjax/tex-chtml-full.js"

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static", MATHJAX]
html_css_files = ["book.css"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_search_language = language
html_context = {"default_mode": "light"}  # a set mode: the theme's switch then has nothing to complain about
