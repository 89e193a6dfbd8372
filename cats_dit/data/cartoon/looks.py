"""What each breed looks like, as data: ``BREED_LOOKS`` (the 12 cat breeds) and ``DOG_LOOKS``
(the dogs drawn as ``other``), and the functions that draw one random individual's ``Look``.

A cat entry: ``coat`` (one base colour, or several: with ``coat_p_first`` the first is picked with
that probability, else one uniformly), ``coat_sd`` (colour jitter), optional ``pattern_color``
(``("shade", f)`` of the coat or ``("jitter", colour, sd)``), optional ``points`` (``(dark, light,
sd)``: a colour-point shade drawn between the two), optional ``white_chest_p``, and fixed ``Look``
fields. Random draws happen in that order (coat, pattern colour, points, white chest), which keeps
every image identical to the hand-written version this table replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .pen import Color, _jitter, _mix, _shade


@dataclass
class Look:
    coat: Color
    eye: Color = (120, 170, 60)
    pattern: str = "plain"  # plain | ticked | rosettes | spots | stripes | wrinkles
    pattern_color: Color = (60, 40, 25)
    points: Color | None = None  # colour-pointed face mask / ears / legs / tail
    white_paws: bool = False
    white_chest: bool = False
    ear: float = 1.0  # ear size
    tufts: bool = False
    fluff: float = 0.0  # 0 = smooth outline, 0.12 = very long hair
    ruff: float = 0.0  # neck ruff size
    body_w: float = 1.0  # body width factor (round vs slim)
    head_w: float = 1.0
    size: float = 1.0
    flat_face: bool = False
    inner_ear: Color = (230, 160, 160)
    nose: Color = (210, 120, 120)
    whiskers: bool = True
    tail_w: float = 0.28
    dog: str | None = None
    extras: dict = field(default_factory=dict)


BREED_LOOKS: dict[str, dict] = {
    "Abyssinian": dict(
        coat=[(182, 104, 52)],
        coat_sd=10,
        eye=(150, 170, 60),
        pattern="ticked",
        pattern_color=("shade", 0.6),
        ear=1.35,
        body_w=0.85,
        head_w=0.92,
        nose=(190, 90, 80),
    ),
    "Bengal": dict(
        coat=[(226, 160, 62)],
        coat_sd=10,
        eye=(130, 175, 60),
        pattern="rosettes",
        pattern_color=("jitter", (70, 40, 20), 6),
        ear=1.0,
        body_w=1.0,
        nose=(200, 110, 90),
    ),
    "Egyptian_Mau": dict(
        coat=[(196, 198, 196), (186, 150, 100)],
        coat_p_first=0.7,
        coat_sd=8,
        eye=(120, 200, 70),
        pattern="spots",
        pattern_color=("jitter", (50, 50, 50), 6),
        ear=1.1,
        body_w=0.92,
    ),
    "Maine_Coon": dict(
        coat=[(140, 100, 62)],
        coat_sd=10,
        eye=(200, 160, 60),
        pattern="stripes",
        pattern_color=("jitter", (55, 38, 24), 6),
        white_chest_p=0.5,
        ear=1.25,
        tufts=True,
        fluff=0.06,
        ruff=0.35,
        body_w=1.2,
        head_w=1.08,
        size=1.18,
        tail_w=0.42,
    ),
    "Siamese": dict(  # seal points: the darkest of the three pointed breeds
        coat=[(236, 222, 196)],
        coat_sd=6,
        eye=(70, 130, 230),
        pattern="plain",
        points=((48, 32, 26), (95, 70, 55), 6),
        ear=1.45,
        body_w=0.78,
        head_w=0.86,
        tail_w=0.2,
        nose=(70, 50, 45),
    ),
    "Birman": dict(  # points overlap both Siamese and Ragdoll; white paws tell it apart
        coat=[(236, 214, 170)],
        coat_sd=6,
        eye=(80, 140, 230),
        pattern="plain",
        points=((70, 50, 40), (135, 105, 85), 8),
        white_paws=True,
        ear=1.0,
        fluff=0.05,
        ruff=0.2,
        body_w=1.02,
        nose=(150, 100, 90),
    ),
    "Ragdoll": dict(  # the lightest points
        coat=[(240, 234, 222)],
        coat_sd=5,
        eye=(90, 150, 235),
        pattern="plain",
        points=((105, 85, 75), (170, 155, 145), 10),
        white_chest=True,
        ear=0.95,
        fluff=0.1,
        ruff=0.45,
        body_w=1.22,
        head_w=1.06,
        size=1.15,
        tail_w=0.4,
        nose=(190, 140, 140),
    ),
    "Bombay": dict(
        coat=[(28, 26, 30)],
        coat_sd=4,
        eye=(205, 125, 35),
        pattern="plain",
        ear=0.95,
        body_w=1.0,
        head_w=1.02,
        inner_ear=(70, 50, 55),
        nose=(40, 35, 38),
    ),
    "Russian_Blue": dict(
        coat=[(126, 136, 150)],
        coat_sd=7,
        eye=(70, 185, 90),
        pattern="plain",
        ear=1.3,
        body_w=0.82,
        head_w=0.9,
        inner_ear=(190, 150, 160),
        nose=(100, 105, 120),
    ),
    "British_Shorthair": dict(
        coat=[(132, 138, 150)],
        coat_sd=7,
        eye=(220, 140, 40),
        pattern="plain",
        ear=0.72,
        body_w=1.3,
        head_w=1.2,
        size=1.05,
        inner_ear=(190, 150, 160),
        nose=(100, 105, 120),
        tail_w=0.34,
    ),
    "Sphynx": dict(
        coat=[(232, 180, 168)],
        coat_sd=8,
        eye=(190, 200, 90),
        pattern="wrinkles",
        pattern_color=("shade", 0.72),
        ear=1.75,
        body_w=0.82,
        head_w=0.9,
        inner_ear=(240, 150, 150),
        whiskers=False,
        tail_w=0.16,
        nose=(210, 130, 130),
    ),
    "Persian": dict(
        coat=[(245, 243, 238), (236, 220, 186), (180, 182, 188), (226, 170, 110), (120, 110, 108)],
        coat_sd=6,
        eye=(215, 130, 40),
        pattern="plain",
        ear=0.6,
        fluff=0.12,
        ruff=0.55,
        body_w=1.2,
        head_w=1.12,
        size=1.08,
        flat_face=True,
        tail_w=0.42,
        nose=(200, 130, 130),
    ),
}

DOG_LOOKS: dict[str, dict] = {
    "beagle": dict(coat=(242, 238, 230), extras={"head": (190, 120, 55), "saddle": (40, 32, 28)}, ear=1.0),
    "pug": dict(coat=(220, 190, 140), extras={"mask": (45, 38, 35)}, ear=0.5, body_w=1.15),
    "samoyed": dict(coat=(246, 246, 244), fluff=0.1, ruff=0.4, extras={"pointy": True}, ear=0.9, size=1.1),
    "shiba_inu": dict(coat=(210, 120, 50), extras={"pointy": True, "cheeks": (245, 235, 220)}, ear=0.9),
    "newfoundland": dict(coat=(30, 28, 30), fluff=0.06, ear=1.0, size=1.2, body_w=1.3),
    "chihuahua": dict(coat=(220, 180, 120), extras={"pointy": True}, ear=1.6, body_w=0.75, size=0.85),
    "english_cocker_spaniel": dict(coat=(200, 140, 60), fluff=0.05, extras={"long_ears": True}, ear=1.2),
    "boxer": dict(coat=(200, 140, 80), white_chest=True, extras={"mask": (50, 40, 35)}, ear=0.6, body_w=1.1),
    "basset_hound": dict(
        coat=(240, 236, 228), extras={"head": (170, 110, 60), "long_ears": True}, ear=1.3, body_w=1.25
    ),
}
DOG_KINDS: tuple[str, ...] = tuple(DOG_LOOKS)  # the Oxford dog breeds drawn as ``other``

_RANDOM_KEYS = ("coat", "coat_p_first", "coat_sd", "pattern_color", "points", "white_chest_p")


def cat_look(breed: str, rng: np.random.Generator) -> Look:
    """The drawable traits of one random individual of ``breed``."""
    if breed not in BREED_LOOKS:
        raise ValueError(f"No cartoon for breed {breed!r}")
    spec = BREED_LOOKS[breed]
    bases = spec["coat"]
    if len(bases) == 1:
        base = bases[0]
    elif "coat_p_first" in spec:
        base = bases[0] if rng.uniform() < spec["coat_p_first"] else bases[1]
    else:
        base = bases[int(rng.integers(len(bases)))]
    fields = {k: v for k, v in spec.items() if k not in _RANDOM_KEYS}
    fields["coat"] = coat = _jitter(rng, base, spec["coat_sd"])
    if "pattern_color" in spec:
        how, *args = spec["pattern_color"]
        fields["pattern_color"] = _shade(coat, args[0]) if how == "shade" else _jitter(rng, args[0], args[1])
    if "points" in spec:
        dark, light, sd = spec["points"]
        fields["points"] = _jitter(rng, _mix(dark, light, rng.uniform()), sd)
    if "white_chest_p" in spec:
        fields["white_chest"] = rng.uniform() < spec["white_chest_p"]
    return Look(**fields)


def dog_look(kind: str, rng: np.random.Generator) -> Look:
    spec = DOG_LOOKS[kind]
    look = Look(**{**spec, "extras": dict(spec.get("extras", {}))})
    look.coat = _jitter(rng, look.coat, 8)
    look.dog = kind
    look.eye = (60, 40, 25)
    look.nose = (25, 22, 22)
    return look
