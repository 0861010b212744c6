"""Prism: hybrid image + text prior-art search for patent offices."""

__version__ = "0.1.0"
