"""Data for cats_dit: Oxford-IIIT Pet (layout, split, download), image folders, cartoon cats,
robust image loading with an optional pre-resized cache, and the torchvision v2 transforms."""

from .cartoon import make_cartoon_dataset
from .dataset import ImageDataset
from .images import check_image, open_rgb, to_rgb
from .layouts import load_records
from .records import SPLITS, Record
from .transforms import classifier_transform, generator_transform

__all__ = [
    "SPLITS",
    "ImageDataset",
    "Record",
    "check_image",
    "classifier_transform",
    "generator_transform",
    "load_records",
    "make_cartoon_dataset",
    "open_rgb",
    "to_rgb",
]
