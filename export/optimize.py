"""onnxruntime's transformer optimizer on the exported generator: does it fuse attention, is
the result numerically equal, and is it faster than plain onnxruntime and torch eager?

    python -m export.optimize --preset s128                 # random weights, QK-norm off
    python -m export.optimize --preset s128 --qk-norm       # the old QK-norm graph
    python -m export.optimize --preset demo --repeats 20 --threads 1

Prints the fused operator counts per optimizer model type, the largest absolute difference of
each optimized graph from the plain fp32 export, and a speed table (torch eager, onnxruntime
fp32, onnxruntime optimized) timed in interleaved rounds. The load average at the start is
printed with the table; at load > 1 no speed ratio is claimed. The optimized graphs use
com.microsoft contrib ops (MultiHeadAttention, SkipLayerNormalization ...), so they are for
native onnxruntime only: the static page keeps the standard-ops export.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

# Model types whose fusions can match a DiT block; "vit" and "bert" look for LayerNorm-rooted
# attention, "mmdit" for the modulated (adaLN) attention of SD3 / Flux.
MODEL_TYPES = ("bert", "vit", "mmdit")
TOLERANCE = 1e-4  # the exporter's fp32 tolerance, relative to max(1, max |output|)


def build_transformer(preset: str, qk_norm: bool, seed: int = 0):
    """A random-weight TinyDiT of ``preset`` (speed and fusion do not depend on training)."""
    from cats_dit.modeling_tinydit import PRESETS, TinyDiTModel
    from cats_dit.testing import randomize

    torch.manual_seed(seed)
    model = TinyDiTModel(**{**PRESETS[preset], "qk_norm": qk_norm})
    randomize(model, seed)
    return model.eval()


class _MultiHeadAttention(torch.autograd.Function):
    """SDPA on [B, L, D] q, k, v that exports as one com.microsoft MultiHeadAttention node."""

    @staticmethod
    def forward(ctx, q, k, v, num_heads: int):
        b, n, d = q.shape
        heads = [t.reshape(b, n, num_heads, d // num_heads).transpose(1, 2) for t in (q, k, v)]
        return torch.nn.functional.scaled_dot_product_attention(*heads).transpose(1, 2).reshape(b, n, d)

    @staticmethod
    def symbolic(g, q, k, v, num_heads: int):
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=num_heads)


def _fused_forward(self, x: torch.Tensor) -> torch.Tensor:
    # The same maths as Attention.forward with q, k, v kept as [B, L, D] (qkv's layout is
    # [B, L, 3, heads, head_dim], so chunking the last axis gives q, k, v); QK-norm, when on,
    # runs per head on the way in.
    b, n, d = x.shape
    q, k, v = self.qkv(x).chunk(3, dim=-1)
    per_head = (b, n, self.num_heads, self.head_dim)
    q = self.q_norm(q.reshape(per_head)).reshape(b, n, d)
    k = self.k_norm(k.reshape(per_head)).reshape(b, n, d)
    return self.proj(_MultiHeadAttention.apply(q, k, v, self.num_heads))


def with_fused_attention(model):
    """``model`` with every Attention block exporting one MultiHeadAttention node (in place)."""
    import types

    from cats_dit.modeling_tinydit import Attention

    for m in model.modules():
        if isinstance(m, Attention):
            m.forward = types.MethodType(_fused_forward, m)
    return model


def optimize(path: Path, out: Path, model_type: str, num_heads: int, hidden_size: int) -> dict:
    """Run the optimizer (CPU, graph fusions only); returns its fused operator counts."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(
        str(path), model_type=model_type, num_heads=num_heads, hidden_size=hidden_size, opt_level=0, use_gpu=False
    )
    model.save_model_to_file(str(out))
    return {k: v for k, v in model.get_fused_operator_statistics().items() if v}


def session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feeds_for(config, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    hw = config.sample_size
    return {
        "sample": rng.standard_normal((2, config.in_channels, hw, hw)).astype(np.float32),
        "timestep": np.array([500.0, 500.0], np.float32),
        "class_labels": np.array([1, config.num_classes], np.int64),
    }


def interleaved_ms(fns: dict, repeats: int) -> dict:
    """Median ms per call of each function, timed round by round (one call of each per round)
    so a change in machine load hits every candidate alike."""
    for fn in fns.values():
        fn()  # warm-up
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(1000 * (time.perf_counter() - t0))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="s128", help="TinyDiT preset (default: %(default)s)")
    p.add_argument("--qk-norm", action="store_true", help="keep QK-norm (the old graph; blocks the bert/vit fusion)")
    p.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads (default: 2)")
    p.add_argument("--repeats", type=int, default=10, help="interleaved timing rounds (default: %(default)s)")
    p.add_argument("--model-types", default=",".join(MODEL_TYPES), help="optimizer model types to try")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from benchmarks._load import load_average, load_line, ratio
    from cats_dit.onnx.configs import OPSET, TinyDiTOnnxConfig
    from cats_dit.onnx.export import _torch_export, export_generator_files

    model = build_transformer(args.preset, args.qk_norm)
    cfg = model.config
    feeds = feeds_for(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"exporting {args.preset} (qk_norm={args.qk_norm}) ...", file=sys.stderr)
        plain = export_generator_files(model, tmp, ["fp32"], max_file_bytes=1 << 62)["fp32"][0]
        reference = session(plain, args.threads).run(None, feeds)[0]
        scale = max(1.0, float(np.abs(reference).max()))
        candidates = {"onnxruntime fp32": plain}
        print(
            f"\nFusion on {args.preset}, QK-norm {'on' if args.qk_norm else 'off'} (tolerance {TOLERANCE:g} x {scale:.2f})\n"
        )
        print("| model type | fused operators | attention fused | max abs diff | numerically equal |")
        print("|---|---|---|---:|---|")
        for model_type in [m.strip() for m in args.model_types.split(",") if m.strip()]:
            out = tmp / f"generator_{model_type}.onnx"
            try:
                fused = optimize(plain, out, model_type, cfg.num_heads, cfg.hidden_size)
            except Exception as exc:  # an optimizer model type that does not apply to this graph
                print(f"| {model_type} | failed: {type(exc).__name__}: {str(exc)[:80]} | - | - | - |")
                continue
            got = session(out, args.threads).run(None, feeds)[0]
            diff = float(np.abs(got - reference).max())
            attention = sum(v for k, v in fused.items() if "Attention" in k)
            equal = diff <= TOLERANCE * scale
            ops = ", ".join(f"{k} {v}" for k, v in sorted(fused.items())) or "none"
            print(
                f"| {model_type} | {ops} | {'yes' if attention else 'no'} | {diff:.2e} | {'yes' if equal else 'NO'} |"
            )
            if equal:
                candidates[f"onnxruntime optimized ({model_type})"] = out
        # Our own fusion: the attention exported as MultiHeadAttention from the start.
        fused_model = with_fused_attention(build_transformer(args.preset, args.qk_norm))
        out = tmp / "generator_mha.onnx"  # contrib op: past the exporter's standard-ops check on purpose
        _torch_export(fused_model, TinyDiTOnnxConfig(fused_model.config), out, OPSET)
        got = session(out, args.threads).run(None, feeds)[0]
        diff = float(np.abs(got - reference).max())
        count = sum(n.op_type == "MultiHeadAttention" for n in onnx.load(str(out)).graph.node)
        equal = diff <= TOLERANCE * scale
        print(f"| export-time MHA | MultiHeadAttention {count} | {'yes' if count else 'no'} | {diff:.2e} "
              f"| {'yes' if equal else 'NO'} |")  # fmt: skip
        if equal:
            candidates["onnxruntime export-time MHA"] = out
        domains = {n.domain for n in onnx.load(str(plain), load_external_data=False).graph.node}
        print(f"\nPlain export op domains: {sorted(d or 'ai.onnx' for d in domains)}")

        xt, tt, ct = (torch.from_numpy(feeds[k]) for k in ("sample", "timestep", "class_labels"))

        def torch_step():
            with torch.inference_mode():
                model(xt, tt, ct)

        fns = {"torch eager": torch_step}
        for name, path in candidates.items():
            s = session(path, args.threads)
            fns[name] = lambda s=s: s.run(None, feeds)
        load = load_average()
        print(f"timing {len(fns)} candidates x {args.repeats} rounds ...", file=sys.stderr)
        ms = interleaved_ms(fns, args.repeats)
    base = ms["torch eager"]
    print(f"\nPer step (batch 2), {args.threads} threads, median of {args.repeats} interleaved rounds\n")
    print("| backend | ms/step | speed-up vs torch eager |")
    print("|---|---:|---:|")
    for name, value in ms.items():
        print(f"| {name} | {value:.1f} | {ratio(base / value, load)} |")
    print(f"\n{load_line(load)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
