"""``python -m export``: the command line of the ONNX export in :mod:`cats_dit.onnx`."""
