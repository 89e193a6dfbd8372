"""Sample-quality evaluation: breed fidelity, Fréchet distance / KID / precision-recall in the
breed classifier's feature space (and Inception FID/KID from local weights), plots, eval.json.

Run ``python -m cats_dit.eval --help``.
"""

from .evaluate import SUMMARY_KEYS, EvalSettings, run_eval
from .features import ClassifierFeatures
from .metrics import frechet_distance, kernel_inception_distance, precision_recall

__all__ = [
    "SUMMARY_KEYS",
    "ClassifierFeatures",
    "EvalSettings",
    "frechet_distance",
    "kernel_inception_distance",
    "precision_recall",
    "run_eval",
]
