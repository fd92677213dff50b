"""The save-flow service's shell; its version is the installed package's, set once in pyproject.toml."""

from importlib.metadata import version

__version__ = version("saveflow")
