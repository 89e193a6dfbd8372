"""Smaller variants of an exported fp32 ONNX file, and saving under a per-file size limit.

fp16: weights are *stored* as float16 and each is followed by a ``Cast`` to float32, so the
file is half the size but every op still computes in float32. onnxruntime folds the casts at
session start. Why not fp16 compute: onnxconverter-common's full fp16 conversion of this graph
fails to load (a float16 ``Cast`` output typed float32) and, with ``Cast`` blocked, did not
finish; and onnxruntime's CPU EP, which is also what onnxruntime-web's WASM build runs, has
few float16 kernels, so fp16 compute would not run in the browser's WASM fallback anyway.

int8: ``onnxruntime.quantization.quantize_dynamic`` on the weights of MatMul/Gemm (per-channel
int8 weights, uint8 activations quantized at run time). The result uses only standard ONNX
ops (``DynamicQuantizeLinear``, ``MatMulInteger``, ``Cast``, ``Mul``), which onnxruntime-web's
WASM build supports; ``check_standard_ops`` verifies that for every written file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRECISIONS = ("fp32", "fp16", "int8")
MAX_FILE_BYTES = 95_000_000  # stay under the 100 MB per-file limit (GitHub, static hosts)
FP16_MIN_ELEMENTS = 256  # small constants (eps, scales) stay float32: they cost nothing and stay exact


def to_fp16_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """float32 initializers with >= FP16_MIN_ELEMENTS values -> float16 storage + Cast to float32."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    casts = []
    keep = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < FP16_MIN_ELEMENTS:
            keep.append(init)
            continue
        array = numpy_helper.to_array(init)
        if np.abs(array).max(initial=0.0) > 65504:
            raise ValueError(f"Weight {init.name} has values beyond the float16 range; cannot store it as fp16")
        half = numpy_helper.from_array(array.astype(np.float16), name=init.name + "_fp16")
        keep.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=init.name + "_cast"))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)  # casts first keeps the graph topologically sorted
    onnx.checker.check_model(model)
    return model


def to_int8(src: Path, dst: Path, per_channel: bool = True) -> None:
    """Dynamic int8 quantization of MatMul/Gemm weights (activations quantized at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The "run pre-processing first" hint is about static quantization of large graphs; not needed here.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    quantize_dynamic(
        Path(src),
        Path(dst),
        op_types_to_quantize=["MatMul", "Gemm"],
        per_channel=per_channel,
        weight_type=QuantType.QInt8,
        extra_options={"MatMulConstBOnly": True},  # leave attention's activation x activation matmuls in fp32
    )


def check_standard_ops(model: onnx.ModelProto, what: str) -> None:
    """Raise if the graph uses ops outside the standard ONNX domain (onnxruntime-web WASM may lack them)."""
    custom = sorted({f"{n.domain}.{n.op_type}" for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    if custom:
        raise ValueError(f"{what} uses non-standard ops that onnxruntime-web may not run: {', '.join(custom)}")


def save_onnx(model: onnx.ModelProto, path: Path, max_file_bytes: int = MAX_FILE_BYTES) -> list[Path]:
    """Write ``model``; when it would exceed ``max_file_bytes``, move weights into external data
    files ``<name>.data0``, ``.data1`` ... each under the limit. Returns every file written."""
    path = Path(path)
    if model.ByteSize() <= max_file_bytes:
        onnx.save(model, path)
        return [path]
    model = onnx.ModelProto.FromString(model.SerializeToString())
    written: list[Path] = []
    handle, offset = None, 0
    try:
        for tensor in _all_tensors(model):
            if not tensor.HasField("raw_data") or len(tensor.raw_data) < 1024:
                continue
            raw = tensor.raw_data
            if len(raw) > max_file_bytes:
                raise ValueError(
                    f"Tensor {tensor.name} alone is {len(raw)} bytes, over the {max_file_bytes} byte file limit"
                )
            if handle is None or offset + len(raw) > max_file_bytes:
                if handle is not None:
                    handle.close()
                data_path = path.with_name(f"{path.name}.data{len(written)}")
                handle, offset = data_path.open("wb"), 0
                written.append(data_path)
            handle.write(raw)
            onnx.external_data_helper.set_external_data(
                tensor, location=written[-1].name, offset=offset, length=len(raw)
            )
            tensor.data_location = TensorProto.EXTERNAL
            tensor.ClearField("raw_data")
            offset += len(raw)
    finally:
        if handle is not None:
            handle.close()
    onnx.save(model, path)
    if path.stat().st_size > max_file_bytes:
        raise ValueError(f"{path.name} is still {path.stat().st_size} bytes after moving weights out")
    return [path, *written]


def _all_tensors(model: onnx.ModelProto):
    yield from model.graph.initializer
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t
