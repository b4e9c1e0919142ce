"""The tools: the self-check (doctor), navigation cells, slide metadata, one-language handouts and the
command line that runs them (`python -m helpers doctor | nav | slides | handout`)."""

from ..engine import submodules

__getattr__ = submodules(__name__)
