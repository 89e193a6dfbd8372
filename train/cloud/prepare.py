"""The dataset in the data volume, checked once, and its pre-resized cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from train.cloud.argv import call_main, to_argv
from train.cloud.layout import dataset_root


def run_prepare_data(
    data_dir: Path, dataset: str = "oxford", cache_sizes: Sequence[int] = (128,), per_class: int = 100, seed: int = 0
) -> dict:
    """Download (or draw) the dataset into ``data_dir`` once, check every file, fill the pre-resized cache.

    Idempotent: a dataset already in place is not fetched again and cached images are reused.
    """
    from tqdm.auto import tqdm

    from cats_dit.data import ImageDataset, load_records
    from cats_dit.data.__main__ import main as data_main

    root = dataset_root(data_dir, dataset)
    if not (root / "annotations" / "trainval.txt").is_file():
        if dataset == "oxford":
            command = ["download", *to_argv(root=root)]
        else:
            command = ["cartoon", *to_argv(root=root, per_class=per_class, seed=seed)]
        call_main(data_main, command, "python -m cats_dit.data")
    summary = {"dataset": dataset, "root": str(root), "splits": {}, "skipped": [], "cache_sizes": list(cache_sizes)}
    for split in ("trainval", "test"):
        dataset_ = ImageDataset(load_records(root, split=split), cache_dir=None, progress=True)
        summary["splits"][split] = len(dataset_)
        summary["skipped"] += [f"{p.name}: {why}" for p, why in dataset_.skipped]
        for size in cache_sizes:  # the training scripts read these small files instead of full-size JPEGs
            cached = ImageDataset(dataset_.records, cache_dir=Path(data_dir) / "cache", cache_size=size, verify=False)
            for i in tqdm(range(len(cached)), desc=f"cache {split} @{size}px", unit="img", mininterval=5):
                cached.load_image(i)
    (root / "prepared.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"} | {"skipped": len(summary["skipped"])}))
    return summary
