"""edgekd: distill, export, compile and profile small models for edge devices.

Importing this package is cheap on purpose: torch, onnx and every runtime are imported
only by the modules that need them.
"""

__version__ = "0.1.0"
