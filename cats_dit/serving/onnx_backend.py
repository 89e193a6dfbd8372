"""onnxruntime backend (placeholder until cats_dit.onnx_pipeline exists)."""

from __future__ import annotations


def find_onnx_folder(gen_path, cls_path, onnx_dir, export_if_missing=False):
    return None, "the onnxruntime backend is not built yet"
