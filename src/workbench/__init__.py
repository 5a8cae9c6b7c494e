"""Workbench: a notebook-driven ML workbench for data-driven content personalization."""

__version__ = "0.1.0"
