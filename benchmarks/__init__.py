"""Speed benchmarks: ``python -m benchmarks.bench``."""
