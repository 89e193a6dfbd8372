"""ONNX export of the CatsDiT generator and the breed classifier (run as ``python -m export``)."""
