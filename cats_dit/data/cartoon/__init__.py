"""Cartoon cats: a procedural dataset in the exact Oxford-IIIT Pet layout.

Each of the 12 cat breeds is drawn with its real traits (coat colour and pattern, colour
points, eye colour, ear size, body shape, long hair) and ``other`` is drawn as dogs of several
Oxford breeds (snout, big nose, floppy or pointed ears). Pose (sitting / lying, head tilt),
size, position, facing and background vary per image. The cues that separate breeds are big
(coat colour, pattern scale, points, body shape) so they survive a 32 px downscale; the hard
pairs (Russian Blue / British Shorthair, Siamese / Birman / Ragdoll, Bengal / Egyptian Mau)
share their big cue and differ in smaller ones, as in the real data.

Deterministic: image k of class c under seed s always has the same bytes.
"""

from .draw import draw_class, draw_pet
from .looks import BREED_LOOKS, DOG_KINDS, DOG_LOOKS, Look, cat_look, dog_look
from .montage import montage
from .writer import ODD_FILES, make_cartoon_dataset, odd_file_names

__all__ = [
    "BREED_LOOKS",
    "DOG_KINDS",
    "DOG_LOOKS",
    "ODD_FILES",
    "Look",
    "cat_look",
    "dog_look",
    "draw_class",
    "draw_pet",
    "make_cartoon_dataset",
    "montage",
    "odd_file_names",
]
