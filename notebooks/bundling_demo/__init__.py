"""Helpers for the bundling.ipynb walkthrough: local code that ships with the notebook."""
