"""Distribution metrics on feature vectors: Fréchet distance, KID, k-NN precision/recall.

All functions take two float arrays ``[N, D]`` (any feature space: the breed classifier's
penultimate layer, or Inception's pool features) and return plain Python floats.
"""

from __future__ import annotations

import numpy as np


def _as_features(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [N, D] of features, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _trace_sqrt_product(a: np.ndarray, b: np.ndarray) -> float:
    """``Tr sqrt(S_a S_b)`` exactly, without ``sqrtm`` (slow at D ~ 1000, unstable when singular).

    The eigenvalues of ``S_a S_b`` are those of ``S_a^1/2 S_b S_a^1/2`` (symmetric, >= 0). With fewer
    samples than dimensions they are the squared singular values of ``A_c B_c^T / sqrt((n_a-1)(n_b-1))``
    (centred data), a small matrix, so the trace is its nuclear norm.
    """
    n_a, n_b, dim = len(a), len(b), a.shape[1]
    if min(n_a, n_b) < dim:
        m = (a - a.mean(0)) @ (b - b.mean(0)).T / np.sqrt((n_a - 1) * (n_b - 1))
        return float(np.linalg.svd(m, compute_uv=False).sum())
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    lam = np.linalg.eigvalsh(root @ cov_b @ root)
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def frechet_distance(features_a, features_b) -> float:
    """``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 sqrt(S_a S_b))`` (the FID formula) in any feature space.

    Works for singular covariances (fewer samples than feature dimensions), where it is exact too.
    """
    a, b = _as_features(features_a, "features_a"), _as_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Fréchet distance needs at least 2 samples per set, got {len(a)} and {len(b)}")
    diff = a.mean(0) - b.mean(0)
    trace_a, trace_b = a.var(0, ddof=1).sum(), b.var(0, ddof=1).sum()
    value = diff @ diff + trace_a + trace_b - 2.0 * _trace_sqrt_product(a, b)
    return float(max(value, 0.0))


def _mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    m, n = k_xx.shape[0], k_yy.shape[0]
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(sum_xx + sum_yy - 2.0 * k_xy.mean())


def kernel_inception_distance(
    features_a, features_b, num_subsets: int = 100, subset_size: int = 1000, degree: int = 3, seed: int = 0
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): unbiased MMD^2 with the kernel ``(x.y / d + 1)^3``.

    Sets that both fit in ``subset_size`` are measured once on all their rows (exact, std 0);
    larger ones are averaged over ``num_subsets`` random subsets of ``min(subset_size, N_a, N_b)``
    rows, as in torch-fidelity. Returns (mean, std)."""
    a, b = _as_features(features_a, "features_a"), _as_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    size = min(int(subset_size), len(a), len(b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(a)} and {len(b)}")
    dim = a.shape[1]
    if max(len(a), len(b)) <= int(subset_size):
        kernel = lambda x, y: (x @ y.T / dim + 1.0) ** degree  # noqa: E731
        return _mmd2_unbiased(kernel(a, a), kernel(a, b), kernel(b, b)), 0.0
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(int(num_subsets)):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        k_xx = (x @ x.T / dim + 1.0) ** degree
        k_yy = (y @ y.T / dim + 1.0) ** degree
        k_xy = (x @ y.T / dim + 1.0) ** degree
        values.append(_mmd2_unbiased(k_xx, k_xy, k_yy))
    return float(np.mean(values)), float(np.std(values))


def _kth_neighbour_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (k counts neighbours, not itself)."""
    d = _cdist(x, x)
    np.fill_diagonal(d, 0.0)
    d.sort(axis=1)
    return d[:, min(k, len(x) - 1)]  # column 0 is the point itself


def _cdist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    sq = (x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2.0 * x @ y.T
    return np.sqrt(np.maximum(sq, 0.0))


def precision_recall(real_features, fake_features, k: int = 3) -> tuple[float, float]:
    """Improved precision/recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points, radius = distance to the k-th
    nearest neighbour in the same set. Precision: share of fake points inside the real manifold;
    recall: share of real points inside the fake manifold.
    """
    real, fake = _as_features(real_features, "real_features"), _as_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(
            f"precision/recall with k={k} needs more than {k} samples per set, got {len(real)} and {len(fake)}"
        )
    r_real, r_fake = _kth_neighbour_radii(real, k), _kth_neighbour_radii(fake, k)
    d = _cdist(fake, real)  # [n_fake, n_real]
    precision = (d <= r_real[None, :]).any(axis=1).mean()
    recall = (d.T <= r_fake[None, :]).any(axis=1).mean()
    return float(precision), float(recall)


def density_coverage(real_features, fake_features, k: int = 3) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), the outlier-robust siblings of precision/recall.

    Balls around real points only (radius = distance to the k-th real neighbour). Density: how many
    real balls hold each fake point on average, divided by k (about 1 when the distributions match; a
    tight clump of fakes inside one stray real ball scores about 1/k, where precision would say 1).
    Coverage: share of real balls that hold at least one fake point (about 1 - 2^-k for a perfect
    generator with as many fakes as reals).
    """
    real, fake = _as_features(real_features, "real_features"), _as_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")
    if len(real) <= k or len(fake) < 1:
        raise ValueError(f"density/coverage with k={k} needs more than {k} real samples, got {len(real)}")
    inside = _cdist(fake, real) <= _kth_neighbour_radii(real, k)[None, :]  # [n_fake, n_real]
    return float(inside.sum() / (k * len(fake))), float(inside.any(axis=0).mean())
