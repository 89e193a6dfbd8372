"""TinyDiT: a small pixel-space Diffusion Transformer with AdaLN-Zero, for diffusers.

This file is copied next to the weights by ``save_pretrained`` as Hub custom code, so it
imports only torch and diffusers (never other ``cats_dit`` modules).

Shapes: ``sample`` [B, C, H, W] float in [-1, 1]; ``timestep`` [B] (or scalar) float in
[0, 1000], ``1000 * s`` where ``s = 1`` is pure noise; ``class_labels`` [B] int64 in
``0..num_classes`` (``num_classes`` is the null class used for classifier-free guidance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

# Named sizes. `tiny`: tests (trains in seconds on CPU). `demo`: the committed demo
# weights (trains in well under an hour on 2 CPU cores). `s128`: the real 128 px model.
# New presets leave QK-norm off (``qk_norm=True`` stays the config default so that folders saved
# before the field existed load as the architecture they were trained with).
PRESETS: dict[str, dict] = {
    "tiny": dict(sample_size=16, patch_size=4, hidden_size=64, depth=2, num_heads=4, mlp_ratio=4.0, qk_norm=False),
    "demo": dict(sample_size=32, patch_size=4, hidden_size=192, depth=6, num_heads=6, mlp_ratio=4.0, qk_norm=False),
    "s128": dict(sample_size=128, patch_size=8, hidden_size=384, depth=12, num_heads=6, mlp_ratio=4.0, qk_norm=False),
}


WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"


def check_weights_file(folder: Path) -> None:
    """Raise an error naming the file when a model folder's weights are missing or damaged."""
    if not (folder / "config.json").is_file():
        raise OSError(f"{folder} is not a TinyDiT model folder: config.json is missing")
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        found = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        raise OSError(f"Weights file {weights} is missing (the folder holds: {found})")
    size = weights.stat().st_size
    with weights.open("rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        # Check the length first: reading a garbage length would try to allocate terabytes.
        if size < 8 or header_len > size - 8:
            raise OSError(
                f"Weights file {weights} is not a safetensors file: its header claims {header_len} bytes"
                f" but the file has {size}"
            )
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
        data_end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except Exception as exc:  # not even a readable safetensors header
        reason = str(exc) or type(exc).__name__
        raise OSError(f"Weights file {weights} is corrupt (unreadable safetensors header): {reason}") from exc
    if size < 8 + header_len + data_end:
        raise OSError(f"Weights file {weights} is truncated: {size} bytes, expected {8 + header_len + data_end}")


@dataclass
class TinyDiTOutput(BaseOutput):
    """``sample`` [B, C, H, W]: the model's prediction (velocity or clean image)."""

    sample: torch.Tensor


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, (H/p)*(W/p), p*p*C], tokens in row-major patch order."""
    b, c, h, w = x.shape
    p = patch_size
    x = x.reshape(b, c, h // p, p, w // p, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # b, gh, gw, p, p, c
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(tokens: torch.Tensor, patch_size: int, channels: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: token ``i`` becomes patch ``(i // gw, i % gw)``."""
    b = tokens.shape[0]
    p = patch_size
    gh, gw = height // p, width // p
    x = tokens.reshape(b, gh, gw, p, p, channels)
    x = x.permute(0, 5, 1, 3, 2, 4)  # b, c, gh, p, gw, p
    return x.reshape(b, channels, height, width)


def sincos_pos_embed_2d(dim: int, grid: int) -> torch.Tensor:
    """Fixed 2D sin-cos positional table [grid*grid, dim] (half the channels per axis)."""
    assert dim % 4 == 0, "hidden_size must be divisible by 4 for 2D sin-cos positions"
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    coords = torch.arange(grid, dtype=torch.float64)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")

    def axis(pos: torch.Tensor) -> torch.Tensor:
        out = pos.reshape(-1, 1) * omega.reshape(1, -1)
        return torch.cat([out.sin(), out.cos()], dim=1)

    return torch.cat([axis(yy), axis(xx)], dim=1).float()


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features of the (float) timestep in [0, 1000]: [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class RMSNorm(nn.Module):
    """RMS norm written out by hand: ``nn.RMSNorm`` does not export to ONNX at opset 17."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return (x * self.weight.float()).to(dtype)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x * (1 + scale) + shift`` per sample, as one fused op (shift/scale are [B, 1, D])."""
    return torch.addcmul(shift, x, 1 + scale)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qk_norm: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        # QK-norm costs ~10% of a training step and blocks onnxruntime's attention fusion; at these
        # sizes it does not change what the model learns (benchmarks/RESULTS.md), so it is optional.
        self.q_norm = RMSNorm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = RMSNorm(self.head_dim) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        # Split with unbind over the un-permuted axis, then transpose: the backward then stacks
        # the three grads straight into the qkv layout (indexing would fill a zero tensor per
        # slice, and unbinding a permuted view needs one more copy).
        q, k, v = (t.transpose(1, 2) for t in self.qkv(x).view(b, n, 3, self.num_heads, self.head_dim).unbind(2))
        q, k = self.q_norm(q), self.k_norm(k)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, d))


class DiTBlock(nn.Module):
    """Pre-norm transformer block whose norms are modulated by the condition (AdaLN-Zero)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qk_norm: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, num_heads, qk_norm)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # addcmul fuses each modulation and gated residual into one pass (~5% of a training step).
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c).unsqueeze(1).chunk(6, dim=-1)
        x = torch.addcmul(x, gate1, self.attn(modulate(self.norm1(x), shift1, scale1)))
        return torch.addcmul(x, gate2, self.mlp(modulate(self.norm2(x), shift2, scale2)))


class FinalLayer(nn.Module):
    def __init__(self, dim: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, patch_size * patch_size * out_channels)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).unsqueeze(1).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class TinyDiTModel(ModelMixin, ConfigMixin):
    """Class-conditional pixel-space DiT with AdaLN-Zero and QK-norm.

    ``forward(sample, timestep, class_labels)`` -> ``TinyDiTOutput(sample=[B, C, H, W])``
    (or a tensor with ``return_dict=False``). ``class_labels == num_classes`` is the null
    class for guidance, so the class table has ``num_classes + 1`` rows.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        sample_size: int = 32,
        patch_size: int = 4,
        in_channels: int = 3,
        hidden_size: int = 192,
        depth: int = 6,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        num_classes: int = 13,
        qk_norm: bool = True,
        final_conv: bool = False,
    ):
        super().__init__()
        if sample_size % patch_size:
            raise ValueError(f"sample_size {sample_size} is not a multiple of patch_size {patch_size}")
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not a multiple of num_heads {num_heads}")
        self.gradient_checkpointing = False
        grid = sample_size // patch_size
        self.patch_embed = nn.Conv2d(in_channels, hidden_size, patch_size, stride=patch_size)
        self.register_buffer("pos_embed", sincos_pos_embed_2d(hidden_size, grid)[None], persistent=False)
        self.time_embed = nn.Sequential(nn.Linear(256, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.class_embed = nn.Embedding(num_classes + 1, hidden_size)
        self.blocks = nn.ModuleList(DiTBlock(hidden_size, num_heads, mlp_ratio, qk_norm) for _ in range(depth))
        self.final_layer = FinalLayer(hidden_size, patch_size, in_channels)
        # A 3x3 conv over the un-patchified image (as in U-ViT): each token's linear output is one
        # patch on its own, which leaves visible patch edges; the conv lets neighbours blend them.
        self.conv_out = nn.Conv2d(in_channels, in_channels, 3, padding=1) if final_conv else None
        self._init_weights()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """diffusers' loader, plus a check that names a missing or truncated weights file."""
        folder = Path(pretrained_model_name_or_path)
        if folder.is_dir():
            folder = folder / kwargs["subfolder"] if kwargs.get("subfolder") else folder
            check_weights_file(folder)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TinyDiTModel:
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def _init_weights(self) -> None:
        def basic(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

        self.apply(basic)
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.bias)
        # Unit-scale class rows and Xavier time layers (not DiT's N(0, 0.02)): with AdaLN-Zero the
        # modulation weights' gradient is proportional to SiLU(condition), so a tiny condition
        # makes time and class arrive late; this learns the classes several times sooner
        # (benchmarks/RESULTS.md, "Learning efficiency").
        nn.init.normal_(self.class_embed.weight, std=1.0)
        # AdaLN-Zero: every residual branch and the output start at exactly zero.
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)
        if self.conv_out is not None:
            # Identity: the output still starts at zero, and a model without the conv can be
            # fine-tuned into one with it from exactly where it was.
            nn.init.dirac_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float,
        class_labels: torch.Tensor,
        return_dict: bool = True,
    ) -> TinyDiTOutput | tuple[torch.Tensor]:
        b, c, h, w = sample.shape
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], dtype=torch.float32, device=sample.device)
        timestep = timestep.reshape(-1).to(sample.device)
        if timestep.shape[0] != b:
            timestep = timestep.expand(b)
        # Positions first: the sum then takes the table's contiguous [B, N, D] layout, not the
        # conv's transposed one, which would follow the residual stream through every block and
        # make each LayerNorm copy its input.
        x = self.pos_embed.to(sample.dtype) + self.patch_embed(sample).flatten(2).transpose(1, 2)
        cond = self.time_embed(timestep_embedding(timestep, 256).to(sample.dtype)) + self.class_embed(class_labels)
        for block in self.blocks:
            if self.gradient_checkpointing and torch.is_grad_enabled():
                x = self._gradient_checkpointing_func(block, x, cond)
            else:
                x = block(x, cond)
        out = unpatchify(self.final_layer(x, cond), self.config.patch_size, c, h, w)
        if self.conv_out is not None:
            out = self.conv_out(out)
        if not return_dict:
            return (out,)
        return TinyDiTOutput(sample=out)
