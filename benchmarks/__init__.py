"""Benchmarks for bundling; run ``python -m benchmarks.bundle_bench --help`` from the repo root."""
