"""Export trained PyTorch models to checked, stamped ONNX files."""
