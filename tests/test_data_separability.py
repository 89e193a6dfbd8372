"""Cartoon cats are learnable but not trivially: colour alone gets well above chance, far from 100%.

A nearest-centroid classifier on colour histograms of the centre of 32 px images (what the
generator sees) stands in for "a simple classifier". The real classifier accuracy test
belongs to the training tests."""

import torch
import torch.nn.functional as F

from cats_dit.breeds import NUM_CLASSES, to_id
from cats_dit.data import generator_transform, load_records, make_cartoon_dataset, open_rgb


def _centre_histograms(root, split):
    t = generator_transform(32, flip=False)
    recs = load_records(root, split)
    x = torch.stack([t(open_rgb(r.path)) for r in recs])[..., 8:24, 8:24]
    q = ((x + 1) / 2 * 3.999).long().clamp(0, 3)
    bins = q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2]  # 4x4x4 RGB bins
    return F.one_hot(bins.flatten(1), 64).float().mean(1), torch.tensor([r.label for r in recs])


def test_colour_alone_is_informative_but_not_enough(tmp_path):
    root = make_cartoon_dataset(tmp_path / "pets", per_class=16, seed=11, test_fraction=0.5)
    h_train, y_train = _centre_histograms(root, "trainval")
    h_test, y_test = _centre_histograms(root, "test")
    centroids = torch.stack([h_train[y_train == c].mean(0) for c in range(NUM_CLASSES)])
    accuracy = (torch.cdist(h_test, centroids).argmin(1) == y_test).float().mean().item()
    chance = 1 / NUM_CLASSES
    assert 2.5 * chance < accuracy < 0.8, accuracy
    # the colour-pointed pair shares its big cue: their colour centroids are unusually close
    d = torch.cdist(centroids, centroids)
    assert d[to_id("Siamese"), to_id("Birman")] < d[d > 0].median()
