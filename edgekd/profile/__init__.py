"""Measure compiled artifacts: latency, throughput, size and accuracy."""
