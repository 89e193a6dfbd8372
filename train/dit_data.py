"""TinyDiT training data: a seeded, epoch-indexed order (restorable on resume), optionally
decoded once into memory, and the endless micro-batch stream the loop draws from."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, Sampler
from tqdm.auto import tqdm


class EpochPermutation(Sampler):
    """Indices in a permutation seeded by (seed, epoch); accelerate calls ``set_epoch``."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


class InMemory(Dataset):
    """Every (image, label) of a dataset with a deterministic transform, decoded once (uint8)."""

    def __init__(self, dataset: Dataset, desc: str = "decoding"):
        items = [dataset[i] for i in tqdm(range(len(dataset)), desc=desc, leave=False)]
        self.images = torch.stack([((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8) for x, _ in items])
        self.labels = torch.tensor([int(y) for _, y in items])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i].float() / 127.5 - 1, self.labels[i]


def build_dataset(args, sample_size: int):
    from cats_dit.data import ImageDataset, generator_transform, load_records

    records = load_records(args.data_root, split=args.split, cats_only=args.cats_only, seed=args.seed)
    if not records:
        raise ValueError(f"No training images found under {args.data_root} (split {args.split!r})")
    # Flips happen in the training loop (seeded per step), so the transform is deterministic.
    kwargs = dict(cache_dir=args.cache_dir, cache_size=sample_size) if args.cache_dir else {}
    dataset = ImageDataset(records, generator_transform(sample_size, flip=False), **kwargs)
    return (InMemory(dataset) if args.preload else dataset), records


def batch_stream(accelerator, loader, sampler, start_batch: int):
    """Endless micro-batches, starting at global micro-batch ``start_batch`` (epochs of ``len(loader)``)."""
    epoch, skip = divmod(start_batch, len(loader))
    while True:
        sampler.set_epoch(epoch)
        current = accelerator.skip_first_batches(loader, skip) if skip else loader
        current.set_epoch(epoch)
        yield from current
        epoch, skip = epoch + 1, 0
