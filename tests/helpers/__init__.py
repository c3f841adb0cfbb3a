"""Helpers for tests and benchmarks that need real services (an OpenSSH server, a browser)."""
