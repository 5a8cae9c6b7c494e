"""Helpers the tests share (importable as ``helpers``: ``tests/`` is on pytest's pythonpath)."""
