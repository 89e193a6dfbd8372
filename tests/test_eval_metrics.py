"""cats_dit.eval.metrics against closed forms and against torch-fidelity's own implementations."""

import numpy as np
import pytest
import torch

from cats_dit.eval.metrics import frechet_distance, kernel_inception_distance, precision_recall


def test_frechet_distance_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, (4000, 4))
    b = rng.normal([2.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 3.0], (4000, 4))
    # |mu|^2 = 4 ; trace term for diagonal covs: sum (sqrt(s1) - sqrt(s2))^2 = (1 - 3)^2 = 4
    assert frechet_distance(a, b) == pytest.approx(8.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_agrees_with_torch_fidelity_in_both_regimes():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(1)
    for n, d in ((300, 8), (20, 64), (40, 40)):  # fewer samples than dimensions: the SVD path
        a = rng.normal(size=(n, d))
        b = rng.normal(0.3, 1.5, size=(n, d))
        ours = frechet_distance(a, b)
        theirs = fid_statistics_to_metric(
            fid_features_to_statistics(torch.from_numpy(a)), fid_features_to_statistics(torch.from_numpy(b)), False
        )["frechet_inception_distance"]
        assert ours == pytest.approx(theirs, rel=1e-3, abs=1e-3)
        assert ours > 0


def test_kid_is_torch_fidelitys_unbiased_polynomial_mmd():
    from torch_fidelity.metric_kid import kernel_poly, mmd2

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(50, 16)), rng.normal(0.5, 1.0, size=(50, 16))
    mean, std = kernel_inception_distance(a, b, num_subsets=1, subset_size=50)
    kw = {"kid_kernel_poly_degree": 3, "kid_kernel_poly_gamma": None, "kid_kernel_poly_coef0": 1}
    expected = mmd2(kernel_poly(a, a, **kw), kernel_poly(a, b, **kw), kernel_poly(b, b, **kw))
    assert mean == pytest.approx(expected, rel=1e-9)
    assert std == 0.0
    same_mean, _ = kernel_inception_distance(a, rng.normal(size=(50, 16)), num_subsets=20, subset_size=30)
    assert kernel_inception_distance(a, b[:40])[1] == 0.0  # small sets: measured once on every row
    assert abs(same_mean) < mean / 5  # unbiased: near zero for one distribution, clearly positive for two


def test_precision_recall_matches_torch_fidelity_and_reacts_to_mode_collapse():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    rng = np.random.default_rng(3)
    real = rng.normal(size=(200, 8))
    fake = rng.normal(size=(150, 8)) * 0.3  # collapsed onto the centre: precise but low recall
    p, r = precision_recall(real, fake, k=3)
    p_tf, r_tf = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), 3)
    assert (p, r) == pytest.approx((p_tf, r_tf), abs=1e-9)
    assert p > 0.9 and r < 0.5
    p_far, r_far = precision_recall(real, fake + 10.0, k=3)
    assert p_far == 0.0 and r_far == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: frechet_distance(np.zeros((5, 3)), np.zeros((5, 4))),
        lambda: frechet_distance(np.zeros((1, 3)), np.zeros((5, 3))),
        lambda: kernel_inception_distance(np.full((5, 3), np.nan), np.zeros((5, 3))),
        lambda: precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3),
        lambda: frechet_distance(np.zeros(5), np.zeros(5)),
    ],
)
def test_bad_feature_arrays_raise_clear_errors(call):
    with pytest.raises(ValueError, match="feature|samples|NaN|2-D"):
        call()


def test_density_and_coverage_match_their_expected_values_and_see_through_a_clump():
    from cats_dit.eval.metrics import density_coverage

    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(1500, 6)), rng.normal(size=(1500, 6))
    density, coverage = density_coverage(real, fake, k=3)
    assert density == pytest.approx(1.0, abs=0.08)  # E[density] = 1 for identical distributions
    assert coverage == pytest.approx(1 - 0.5**3, abs=0.04)  # E[coverage] ~ 1 - 2^-k
    # A clump of fakes next to one stray real point: precision is fooled, density and coverage are not.
    real_out = np.concatenate([real[:300], [[6.0] * 6]])
    clump = np.full((100, 6), 6.0) + rng.normal(scale=0.01, size=(100, 6))
    precision, _ = precision_recall(real_out, clump, k=3)
    density, coverage = density_coverage(real_out, clump, k=3)
    assert precision == 1.0
    assert density < 0.4 and coverage < 0.01
