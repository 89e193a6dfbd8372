"""PNG figures: confusion matrix, per-breed sample grid, guidance sweep."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..breeds import OTHER, display_name  # noqa: E402


def _short(name: str) -> str:
    return "Other" if name == OTHER else display_name(name)


def confusion_matrix_png(
    matrix: np.ndarray, row_labels: list[str], col_labels: list[str], path: Path, title: str
) -> Path:
    """Rows: the breed asked for; columns: the classifier's answer; cells: share of the row (count)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(col_labels), 1.2 + 0.5 * len(row_labels)))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(col_labels)), [_short(c) for c in col_labels], rotation=60, ha="right")
    ax.set_yticks(range(len(row_labels)), [_short(r) for r in row_labels])
    ax.set_xlabel("classifier says")
    ax.set_ylabel("generated as")
    for i in range(shares.shape[0]):
        for j in range(shares.shape[1]):
            if matrix[i, j]:
                color = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=7, color=color)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sample_grid_png(
    images: torch.Tensor,
    labels: np.ndarray,
    predicted: np.ndarray,
    names: list[str],
    path: Path,
    columns: int = 8,
    grader: str = "classifier",
) -> Path:
    """One row per breed, up to ``columns`` images; a red frame marks images ``grader`` (the model whose
    ``predicted`` labels these are) put in another breed."""
    breeds = list(dict.fromkeys(int(b) for b in labels))
    fig, axes = plt.subplots(
        len(breeds), columns, figsize=(1.1 * columns + 1.6, 1.15 * len(breeds) + 0.6), squeeze=False
    )
    for row, breed in enumerate(breeds):
        idx = np.flatnonzero(labels == breed)[:columns]
        for col in range(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(idx):
                i = idx[col]
                ax.imshow(images[i].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
                if int(predicted[i]) != breed:
                    for spine in ax.spines.values():
                        spine.set_visible(True)
                        spine.set_color("red")
                        spine.set_linewidth(2)
        axes[row, 0].set_ylabel(_short(names[breed]), rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"Generated samples per breed (red frame: the {grader} disagrees)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / fig.get_figheight()))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def guidance_sweep_png(sweep: list[dict], path: Path, floor_fd: float | None = None) -> Path:
    """Breed fidelity and Fréchet distance against the guidance scale, on two y axes."""
    g = [row["guidance_scale"] for row in sweep]
    fid = [row["breed_fidelity"] for row in sweep]
    fd = [row["frechet_distance"] for row in sweep]
    fig, ax1 = plt.subplots(figsize=(6, 4))
    ax1.plot(g, fid, "o-", color="tab:blue", label="breed fidelity")
    ax1.set_xlabel("guidance scale")
    ax1.set_ylabel("breed fidelity (higher is better)", color="tab:blue")
    ax1.set_ylim(0, 1)
    ax2 = ax1.twinx()
    ax2.plot(g, fd, "s--", color="tab:red", label="Fréchet distance")
    if floor_fd is not None:
        ax2.axhline(floor_fd, color="tab:red", alpha=0.4, linestyle=":", label="real-vs-real floor")
    ax2.set_ylabel("Fréchet distance (lower is better)", color="tab:red")
    ax2.set_ylim(bottom=0)
    lines = ax1.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax1.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="best", fontsize=8)
    ax1.set_title("Choosing a guidance scale (classifier feature space)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
