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

from __future__ import annotations

import colorsys
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from ..breeds import CAT_BREEDS, LABELS, OTHER_ID
from .oxford import LIST_HEADER, OXFORD_CLASSES, oxford_ids

SS = 2  # supersampling factor: draw at 2x, then halve for smooth edges
DOG_KINDS = (
    "beagle",
    "pug",
    "samoyed",
    "shiba_inu",
    "newfoundland",
    "chihuahua",
    "english_cocker_spaniel",
    "boxer",
    "basset_hound",
)

Color = tuple[int, int, int]


def _clip(c) -> Color:
    return tuple(int(max(0, min(255, round(v)))) for v in c)


def _mix(a, b, t: float) -> Color:
    return _clip([x * (1 - t) + y * t for x, y in zip(a, b)])


def _shade(c, f: float) -> Color:
    return _clip([v * f for v in c])


def _jitter(rng, c, sd: float = 8.0) -> Color:
    return _clip(np.asarray(c, float) + rng.normal(0, sd, 3))


class Pen:
    """Draws in local units (1 = head radius) through a similarity transform onto a PIL canvas."""

    def __init__(self, draw: ImageDraw.ImageDraw, ox: float, oy: float, scale: float, angle: float = 0.0, flip=False):
        self.draw, self.ox, self.oy, self.s = draw, ox, oy, scale
        self.c, self.sn = math.cos(angle), math.sin(angle)
        self.f = -1.0 if flip else 1.0
        self.angle = angle

    def child(self, x: float, y: float, angle: float) -> Pen:
        ox, oy = self.pt(x, y)
        pen = Pen(self.draw, ox, oy, self.s, self.angle + angle * self.f)
        pen.f = self.f
        return pen

    def pt(self, x: float, y: float) -> tuple[float, float]:
        x = x * self.f
        return self.ox + self.s * (self.c * x - self.sn * y), self.oy + self.s * (self.sn * x + self.c * y)

    def px(self, w: float) -> int:
        return max(1, round(w * self.s))

    def poly(self, pts, fill, outline=None, width: float = 0.0):
        xy = [self.pt(x, y) for x, y in pts]
        if outline is not None and width > 0:
            self.draw.polygon(xy, fill=fill, outline=outline, width=self.px(width))
        else:
            self.draw.polygon(xy, fill=fill)

    def ellipse_pts(self, cx, cy, rx, ry, rot=0.0, jag=0.0, n=30, phase=0.0):
        pts = []
        cr, sr = math.cos(rot), math.sin(rot)
        for k in range(n):
            t = 2 * math.pi * k / n + phase
            r = 1.0 + (jag if k % 2 else -0.35 * jag)
            x, y = rx * r * math.cos(t), ry * r * math.sin(t)
            pts.append((cx + cr * x - sr * y, cy + sr * x + cr * y))
        return pts

    def ellipse(self, cx, cy, rx, ry, fill, rot=0.0, jag=0.0, outline=None, width=0.0, n=30):
        n = max(n, 48) if jag else n
        self.poly(self.ellipse_pts(cx, cy, rx, ry, rot, jag, n), fill, outline, width)

    def line(self, pts, fill, width: float):
        self.draw.line([self.pt(x, y) for x, y in pts], fill=fill, width=self.px(width), joint="curve")

    def dots(self, pts, fill):
        self.draw.point([self.pt(x, y) for x, y in pts], fill=fill)


# ------------------------------------------------------------------------------------------
# breed specifications
# ------------------------------------------------------------------------------------------


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


def _hsv(h, s, v) -> Color:
    return _clip([c * 255 for c in colorsys.hsv_to_rgb(h, s, v)])


def cat_look(breed: str, rng: np.random.Generator) -> Look:
    """The drawable traits of one random individual of ``breed``."""
    u = rng.uniform
    if breed == "Abyssinian":
        coat = _jitter(rng, (182, 104, 52), 10)
        return Look(
            coat, (150, 170, 60), "ticked", _shade(coat, 0.6), ear=1.35, body_w=0.85, head_w=0.92, nose=(190, 90, 80)
        )
    if breed == "Bengal":
        coat = _jitter(rng, (226, 160, 62), 10)
        return Look(
            coat, (130, 175, 60), "rosettes", _jitter(rng, (70, 40, 20), 6), ear=1.0, body_w=1.0, nose=(200, 110, 90)
        )
    if breed == "Egyptian_Mau":
        coat = _jitter(rng, (196, 198, 196), 8) if u() < 0.7 else _jitter(rng, (186, 150, 100), 8)
        return Look(coat, (120, 200, 70), "spots", _jitter(rng, (50, 50, 50), 6), ear=1.1, body_w=0.92)
    if breed == "Maine_Coon":
        coat = _jitter(rng, (140, 100, 62), 10)
        return Look(
            coat,
            (200, 160, 60),
            "stripes",
            _jitter(rng, (55, 38, 24), 6),
            ear=1.25,
            tufts=True,
            fluff=0.06,
            ruff=0.35,
            body_w=1.2,
            head_w=1.08,
            size=1.18,
            tail_w=0.42,
            white_chest=u() < 0.5,
        )
    if breed == "Siamese":
        coat = _jitter(rng, (236, 222, 196), 6)
        return Look(
            coat,
            (70, 130, 230),
            "plain",
            points=_jitter(rng, _mix((48, 32, 26), (95, 70, 55), u()), 6),  # seal: darkest
            ear=1.45,
            body_w=0.78,
            head_w=0.86,
            tail_w=0.2,
            nose=(70, 50, 45),
        )
    if breed == "Birman":
        coat = _jitter(rng, (236, 214, 170), 6)
        return Look(
            coat,
            (80, 140, 230),
            "plain",
            points=_jitter(rng, _mix((70, 50, 40), (135, 105, 85), u()), 8),  # overlaps both
            white_paws=True,
            ear=1.0,
            fluff=0.05,
            ruff=0.2,
            body_w=1.02,
            nose=(150, 100, 90),
        )
    if breed == "Ragdoll":
        coat = _jitter(rng, (240, 234, 222), 5)
        return Look(
            coat,
            (90, 150, 235),
            "plain",
            points=_jitter(rng, _mix((105, 85, 75), (170, 155, 145), u()), 10),  # lightest
            white_chest=True,
            ear=0.95,
            fluff=0.1,
            ruff=0.45,
            body_w=1.22,
            head_w=1.06,
            size=1.15,
            tail_w=0.4,
            nose=(190, 140, 140),
        )
    if breed == "Bombay":
        coat = _jitter(rng, (28, 26, 30), 4)
        return Look(
            coat, (205, 125, 35), "plain", ear=0.95, body_w=1.0, head_w=1.02, inner_ear=(70, 50, 55), nose=(40, 35, 38)
        )
    if breed == "Russian_Blue":
        coat = _jitter(rng, (126, 136, 150), 7)
        return Look(
            coat,
            (70, 185, 90),
            "plain",
            ear=1.3,
            body_w=0.82,
            head_w=0.9,
            inner_ear=(190, 150, 160),
            nose=(100, 105, 120),
        )
    if breed == "British_Shorthair":
        coat = _jitter(rng, (132, 138, 150), 7)
        return Look(
            coat,
            (220, 140, 40),
            "plain",
            ear=0.72,
            body_w=1.3,
            head_w=1.2,
            size=1.05,
            inner_ear=(190, 150, 160),
            nose=(100, 105, 120),
            tail_w=0.34,
        )
    if breed == "Sphynx":
        coat = _jitter(rng, (232, 180, 168), 8)
        return Look(
            coat,
            (190, 200, 90),
            "wrinkles",
            _shade(coat, 0.72),
            ear=1.75,
            body_w=0.82,
            head_w=0.9,
            inner_ear=(240, 150, 150),
            whiskers=False,
            tail_w=0.16,
            nose=(210, 130, 130),
        )
    if breed == "Persian":
        base = [(245, 243, 238), (236, 220, 186), (180, 182, 188), (226, 170, 110), (120, 110, 108)]
        coat = _jitter(rng, base[int(rng.integers(len(base)))], 6)
        return Look(
            coat,
            (215, 130, 40),
            "plain",
            ear=0.6,
            fluff=0.12,
            ruff=0.55,
            body_w=1.2,
            head_w=1.12,
            size=1.08,
            flat_face=True,
            tail_w=0.42,
            nose=(200, 130, 130),
        )
    raise ValueError(f"No cartoon for breed {breed!r}")


def dog_look(kind: str, rng: np.random.Generator) -> Look:
    looks = {
        "beagle": Look((242, 238, 230), extras={"head": (190, 120, 55), "saddle": (40, 32, 28)}, ear=1.0),
        "pug": Look((220, 190, 140), extras={"mask": (45, 38, 35)}, ear=0.5, body_w=1.15),
        "samoyed": Look((246, 246, 244), fluff=0.1, ruff=0.4, extras={"pointy": True}, ear=0.9, size=1.1),
        "shiba_inu": Look((210, 120, 50), extras={"pointy": True, "cheeks": (245, 235, 220)}, ear=0.9),
        "newfoundland": Look((30, 28, 30), fluff=0.06, ear=1.0, size=1.2, body_w=1.3),
        "chihuahua": Look((220, 180, 120), extras={"pointy": True}, ear=1.6, body_w=0.75, size=0.85),
        "english_cocker_spaniel": Look((200, 140, 60), fluff=0.05, extras={"long_ears": True}, ear=1.2),
        "boxer": Look((200, 140, 80), white_chest=True, extras={"mask": (50, 40, 35)}, ear=0.6, body_w=1.1),
        "basset_hound": Look((240, 236, 228), extras={"head": (170, 110, 60), "long_ears": True}, ear=1.3, body_w=1.25),
    }
    look = looks[kind]
    look.coat = _jitter(rng, look.coat, 8)
    look.dog = kind
    look.eye = (60, 40, 25)
    look.nose = (25, 22, 22)
    return look


# ------------------------------------------------------------------------------------------
# drawing
# ------------------------------------------------------------------------------------------


def _background(img: Image.Image, rng: np.random.Generator) -> None:
    w, h = img.size
    draw = ImageDraw.Draw(img)
    base = _hsv(rng.uniform(), rng.uniform(0.05, 0.45), rng.uniform(0.45, 0.97))
    other = _hsv(rng.uniform(), rng.uniform(0.05, 0.45), rng.uniform(0.35, 0.95))
    kind = int(rng.integers(6))
    draw.rectangle([0, 0, w, h], fill=base)
    if kind == 1:  # wall and floor
        y = int(h * rng.uniform(0.55, 0.8))
        draw.rectangle([0, y, w, h], fill=other)
    elif kind == 2:  # stripes
        step = int(rng.integers(12, 40)) * SS
        for x in range(0, w + h, step):
            draw.line([(x, 0), (x - h * rng.uniform(0, 0.5), h)], fill=_mix(base, other, 0.5), width=step // 3)
    elif kind == 3:  # checker
        step = int(rng.integers(14, 40)) * SS
        for i, x in enumerate(range(0, w, step)):
            for j, y in enumerate(range(0, h, step)):
                if (i + j) % 2:
                    draw.rectangle([x, y, x + step, y + step], fill=_mix(base, other, 0.35))
    elif kind == 4:  # polka dots
        r = int(rng.integers(3, 8)) * SS
        for _ in range(int(rng.integers(10, 40))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=_mix(base, other, 0.6))
    elif kind == 5:  # vertical gradient
        for y in range(0, h, 2):
            draw.line([(0, y), (w, y)], fill=_mix(base, other, y / h), width=2)


def _inside(x, y, cx, cy, rx, ry, margin=0.0) -> bool:
    return ((x - cx) / max(rx - margin, 1e-3)) ** 2 + ((y - cy) / max(ry - margin, 1e-3)) ** 2 <= 1.0


def _coat_pattern(pen: Pen, look: Look, rng, region) -> None:
    """Pattern on one elliptical coat region (cx, cy, rx, ry), clipped to it."""
    cx, cy, rx, ry = region
    area = rx * ry
    if look.pattern in ("rosettes", "spots"):
        # a jittered grid spreads the marks evenly: dense big rosettes vs sparse small spots
        rosette = look.pattern == "rosettes"
        step = 0.42 if rosette else 0.5
        for gx in np.arange(cx - rx, cx + rx + 1e-6, step):
            for gy in np.arange(cy - ry, cy + ry + 1e-6, step):
                x, y = gx + rng.uniform(-0.15, 0.15) * step * 2, gy + rng.uniform(-0.15, 0.15) * step * 2
                r = rng.uniform(0.13, 0.19) if rosette else rng.uniform(0.06, 0.1)
                if not rosette and rng.uniform() < 0.35:
                    continue
                if _inside(x, y, cx, cy, rx, ry, r):
                    if rosette:
                        pen.ellipse(x, y, r, r * rng.uniform(0.7, 1.0), look.pattern_color, rot=rng.uniform(0, 3), n=14)
                        pen.ellipse(x, y, r * 0.55, r * 0.45, _mix(look.coat, look.pattern_color, 0.45), n=10)
                    else:
                        pen.ellipse(x, y, r, r, look.pattern_color, n=10)
    elif look.pattern == "stripes":
        n = max(3, int(rx * 4.5))
        for i in range(n):
            x0 = cx - rx + (i + 0.5) * 2 * rx / n + rng.uniform(-0.05, 0.05)
            half = ry * math.sqrt(max(0.0, 1 - ((x0 - cx) / rx) ** 2)) * 0.92
            if half < 0.1:
                continue
            pts = [(x0 + 0.08 * math.sin(3 * t), cy - half + 2 * half * t) for t in np.linspace(0, 1, 6)]
            pen.line(pts, look.pattern_color, 0.1)
    elif look.pattern == "ticked":
        pts_dark, pts_light = [], []
        for _ in range(int(area * 140)):
            x, y = cx + rng.uniform(-rx, rx), cy + rng.uniform(-ry, ry)
            if _inside(x, y, cx, cy, rx, ry, 0.03):
                (pts_dark if rng.uniform() < 0.5 else pts_light).append((x, y))
        pen.dots(pts_dark, look.pattern_color)
        pen.dots(pts_light, _mix(look.coat, (250, 220, 170), 0.5))
    elif look.pattern == "wrinkles":
        for _ in range(int(area * 1.5) + 1):
            x, y = cx + rng.uniform(-rx * 0.5, rx * 0.5), cy + rng.uniform(-ry * 0.6, ry * 0.6)
            pts = [(x + dx, y + 0.05 * math.sin(dx * 9)) for dx in np.linspace(-0.3, 0.3, 6)]
            pen.line(pts, look.pattern_color, 0.06)


def _ear(pen: Pen, side: int, look: Look, color: Color) -> None:
    e = look.ear
    base_in, base_out = (side * 0.22, -0.72), (side * (0.78 + 0.08 * e), -0.42)
    tip = (side * (0.62 + 0.12 * e), -0.78 - 0.62 * e)
    pen.poly([base_in, tip, base_out], color)
    inner = [(side * 0.36, -0.72), (side * (0.6 + 0.11 * e), -0.82 - 0.45 * e), (side * 0.68, -0.6)]
    pen.poly(inner, look.inner_ear if look.points is None else _mix(look.points, look.inner_ear, 0.25))
    if look.tufts:
        pen.line([tip, (tip[0] + side * 0.05, tip[1] - 0.32)], _shade(look.pattern_color, 0.8), 0.07)


def _eyes(pen: Pen, look: Look) -> None:
    big = 1.25 if look.flat_face else 1.0
    for side in (-1, 1):
        x, y = side * 0.38, -0.08
        pen.ellipse(x, y, 0.2 * big, 0.15 * big * (1.15 if look.flat_face else 1.0), (30, 25, 25), n=16)
        pen.ellipse(x, y, 0.17 * big, 0.125 * big * (1.15 if look.flat_face else 1.0), look.eye, n=16)
        if look.dog:
            pen.ellipse(x, y, 0.08, 0.08, (15, 12, 12), n=10)
        else:
            pen.ellipse(x, y, 0.04 * big, 0.11 * big, (15, 12, 12), n=10)
        pen.ellipse(x + 0.05, y - 0.05, 0.03, 0.03, (250, 250, 250), n=8)


def _cat_face(pen: Pen, look: Look, rng) -> None:
    coat, hw = look.coat, look.head_w
    outline = _shade(coat, 0.6) if sum(coat) > 150 else _mix(coat, (90, 90, 100), 0.3)
    ear_color = look.points or coat
    for side in (-1, 1):
        _ear(pen, side * hw, look, ear_color)
    pen.ellipse(0, 0, hw, 0.92, coat, jag=look.fluff * 0.6, outline=outline, width=0.05)
    if look.pattern in ("stripes", "spots", "rosettes"):  # forehead "M"
        m = [(-0.32, -0.5), (-0.16, -0.78), (0, -0.52), (0.16, -0.78), (0.32, -0.5)]
        pen.line(m, look.pattern_color, 0.07 if look.pattern != "rosettes" else 0.09)
    if look.pattern in ("ticked", "wrinkles"):
        _coat_pattern(pen, look, rng, (0, -0.3, hw * 0.7, 0.45))
    if look.points is not None:  # mask: graded so Ragdoll's light points stay soft
        pen.ellipse(0, 0.2, 0.62 * hw, 0.6, _mix(coat, look.points, 0.55), n=24)
        pen.ellipse(0, 0.25, 0.48 * hw, 0.5, look.points, n=24)
    muzzle_y = 0.26 if look.flat_face else 0.4
    muzzle = _mix(coat, (250, 250, 250), 0.35) if look.points is None else _mix(look.points, coat, 0.15)
    for side in (-1, 1):
        pen.ellipse(side * 0.13, muzzle_y + 0.02, 0.16, 0.13, muzzle, n=14)
    ny = muzzle_y - 0.1
    w = 0.07 if look.flat_face else 0.1
    pen.poly([(-w, ny - 0.05), (w, ny - 0.05), (0, ny + 0.05)], look.nose)
    _eyes(pen, look)
    if look.whiskers:
        wc = (235, 235, 230) if sum(coat) < 300 else (70, 60, 55)
        for side in (-1, 1):
            for dy in (-0.05, 0.05):
                pen.line([(side * 0.3, muzzle_y + dy), (side * 1.15, muzzle_y - 0.1 + dy * 3)], wc, 0.018)


def _dog_face(pen: Pen, look: Look, rng) -> None:
    coat = look.coat
    head = look.extras.get("head", coat)
    ear_col = _shade(head, 0.75)
    pointy = look.extras.get("pointy", False)
    if pointy:
        for side in (-1, 1):
            _ear(pen, side, look, head)
    pen.ellipse(0, 0, 1.0, 0.95, head, jag=look.fluff * 0.5, outline=_shade(head, 0.6), width=0.05)
    if "cheeks" in look.extras:
        pen.ellipse(0, 0.45, 0.75, 0.45, look.extras["cheeks"], n=24)
    if not pointy:  # floppy ears hanging beside the head
        long = 1.0 if look.extras.get("long_ears") else 0.65
        for side in (-1, 1):
            pen.ellipse(
                side * 0.95,
                0.1 + 0.3 * long * look.ear,
                0.32,
                0.55 * long * look.ear + 0.2,
                ear_col,
                rot=-side * 0.25,
                jag=look.fluff * 0.5,
            )
    mask = look.extras.get("mask")
    muzzle = mask or _mix(head, (245, 240, 230), 0.55)
    pen.ellipse(0, 0.5, 0.52, 0.42, muzzle, n=24)
    pen.ellipse(0, 0.32, 0.2, 0.13, look.nose, n=16)
    pen.line([(0, 0.42), (0, 0.62)], (30, 25, 25), 0.035)
    pen.line([(-0.25, 0.66), (0, 0.62), (0.25, 0.66)], (30, 25, 25), 0.035)
    if rng.uniform() < 0.5:
        pen.ellipse(0.05, 0.78, 0.12, 0.16, (230, 100, 110), n=12)
    _eyes(pen, look)


def _body(pen: Pen, look: Look, rng, pose: str) -> None:
    coat, bw = look.coat, look.body_w
    limb = look.points or coat
    outline = _shade(coat, 0.6) if sum(coat) > 150 else _mix(coat, (90, 90, 100), 0.3)
    tail_col = look.points or coat
    if look.dog:
        limb = coat
        tail_col = coat
    jag = look.fluff
    if pose == "sit":
        body = (0, 1.85, 1.0 * bw, 1.45)
        tail = [(0.7 * bw, 3.0), (1.4 * bw, 3.1), (1.9 * bw, 2.6), (1.95 * bw, 1.9)]
        legs = [(-0.35, 1.9, -0.35, 3.15), (0.35, 1.9, 0.35, 3.15)]
        paws = [(-0.35, 3.2), (0.35, 3.2)]
        haunch = [(-0.75 * bw, 2.65), (0.75 * bw, 2.65)]
    else:
        body = (1.65 * bw, 1.15, 1.9 * bw, 0.85)
        tail = [(3.4 * bw, 1.4), (3.9 * bw, 1.2), (4.2 * bw, 0.6), (4.1 * bw, 0.1)]
        legs = [(-0.2, 1.7, -0.7, 1.85), (0.4, 1.75, -0.1, 1.95)]
        paws = [(-0.75, 1.9), (-0.15, 2.0)]
        haunch = [(2.7 * bw, 1.55)]
    if look.dog and look.dog in ("samoyed", "shiba_inu"):  # curled tail up over the back
        tail = [
            (tail[0][0] - 0.3, tail[0][1] - 0.3),
            (tail[0][0] + 0.5, tail[0][1] - 1.2),
            (tail[0][0] - 0.1, tail[0][1] - 1.4),
        ]
    pen.line(tail, outline, look.tail_w + 0.08)
    pen.line(tail, tail_col, look.tail_w)
    if look.fluff >= 0.08 or look.tail_w >= 0.4:
        for x, y in tail[1:]:
            pen.ellipse(x, y, look.tail_w * 0.8, look.tail_w * 0.8, tail_col, jag=0.2)
    if look.pattern == "stripes" or look.pattern == "spots":
        for x, y in tail[1:]:
            pen.ellipse(x, y, look.tail_w * 0.55, look.tail_w * 0.55, look.pattern_color, n=10)
    pen.ellipse(*body, coat, jag=jag, outline=outline, width=0.05)
    if look.points is not None and not look.dog:  # darker shading along the back
        pen.ellipse(body[0], body[1] + 0.1, body[2] * 0.8, body[3] * 0.85, _mix(coat, look.points, 0.12), n=24)
    if "saddle" in look.extras:
        pen.ellipse(body[0] + 0.2, body[1] - 0.2, body[2] * 0.75, body[3] * 0.55, look.extras["saddle"], n=24)
    for hx, hy in haunch:
        pen.ellipse(hx, hy, 0.62 * bw, 0.62, coat, jag=jag, n=24)
    _coat_pattern(pen, look, rng, body)
    for hx, hy in haunch:
        _coat_pattern(pen, look, rng, (hx, hy, 0.55 * bw, 0.55))
    if look.white_chest:
        pen.ellipse(
            body[0] - (0.0 if pose == "sit" else 1.0 * bw),
            body[1] - 0.6 * body[3] + 0.3,
            0.5,
            0.55,
            _mix(coat, (250, 250, 250), 0.8),
            jag=jag,
        )
    leg_w = 0.34 if not look.dog else 0.4
    for x0, y0, x1, y1 in legs:
        pen.line([(x0, y0), (x1, y1)], outline, leg_w + 0.07)
        pen.line([(x0, y0), (x1, y1)], limb, leg_w)
    paw = (250, 250, 250) if look.white_paws else limb
    for x, y in paws:
        pen.ellipse(x, y, 0.24, 0.15, paw, outline=outline, width=0.03, n=16)


def draw_pet(look: Look, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """One cartoon pet on a random background, as an RGB image of ``size``."""
    w, h = size
    img = Image.new("RGB", (w * SS, h * SS))
    _background(img, rng)
    draw = ImageDraw.Draw(img)
    pose = "sit" if rng.uniform() < 0.6 else "lie"
    # extent of the drawing in head units: x from -1.3 to +2.2 (sit) / +4.4 (lie), y from -1.8 to 3.4
    x_lo, x_hi = -1.35, (2.2 if pose == "sit" else 4.3) * max(1.0, look.body_w)
    y_lo, y_hi = -1.9, 3.45 if pose == "sit" else 2.3
    # fit the drawing into the central square (what a centre crop keeps), with a little slack
    square = min(w, h) * SS
    fit = square / max(x_hi - x_lo, y_hi - y_lo)
    scale = fit * rng.uniform(0.75, 1.0) * min(1.0, look.size) if pose == "lie" else fit * rng.uniform(0.8, 1.05)
    flip = bool(rng.uniform() < 0.5)
    span_x, span_y = (x_hi - x_lo) * scale, (y_hi - y_lo) * scale
    sq_left, sq_top = (w * SS - square) / 2, (h * SS - square) / 2
    left = sq_left + rng.uniform(-0.06 * square, max(-0.06 * square, square - span_x + 0.06 * square))
    top = sq_top + rng.uniform(-0.04 * square, max(-0.04 * square, square - span_y + 0.04 * square))
    ox = left - x_lo * scale
    if flip:
        ox = w * SS - ox
    oy = top - y_lo * scale
    pen = Pen(draw, ox, oy, scale, angle=rng.uniform(-0.08, 0.08), flip=flip)
    _body(pen, look, rng, pose)
    tilt = rng.uniform(-0.35, 0.35) if rng.uniform() < 0.5 else rng.uniform(-0.08, 0.08)
    head = pen.child(0, 0, tilt)
    if look.ruff > 0:
        ruff = look.coat if look.points is None or look.white_chest else _mix(look.coat, (250, 250, 250), 0.2)
        head.ellipse(0, 0.35, look.head_w * (1.05 + 0.4 * look.ruff), 0.9 + 0.4 * look.ruff, ruff, jag=0.12)
    if look.dog:
        _dog_face(head, look, rng)
    else:
        _cat_face(head, look, rng)
    return img.reduce(SS)


def draw_class(label: int, rng: np.random.Generator, size: tuple[int, int], dog_kind: str | None = None):
    """A random pet of label id ``label`` (0..12); ``other`` is a dog of ``dog_kind``."""
    if label == OTHER_ID:
        look = dog_look(dog_kind or DOG_KINDS[int(rng.integers(len(DOG_KINDS)))], rng)
    else:
        look = cat_look(CAT_BREEDS[label], rng)
    return draw_pet(look, rng, size)


# ------------------------------------------------------------------------------------------
# the dataset in Oxford-IIIT Pet layout
# ------------------------------------------------------------------------------------------

ODD_FILES = {  # kind -> whether ImageDataset should keep it (converted to RGB) or skip it
    "grayscale_jpeg": True,
    "cmyk_jpeg": True,
    "rgba_png_named_jpg": True,
    "zero_bytes": False,
    "truncated_jpeg": False,
}


def _image_size(rng) -> tuple[int, int]:
    short = int(rng.integers(90, 200))
    long = int(min(260, short * rng.uniform(1.0, 1.35)))
    return (long, short) if rng.uniform() < 0.6 else (short, long)


def _write_odd(path: Path, kind: str, image: Image.Image) -> None:
    if kind == "grayscale_jpeg":
        image.convert("L").save(path, "JPEG", quality=90)
    elif kind == "cmyk_jpeg":
        image.convert("CMYK").save(path, "JPEG", quality=90)
    elif kind == "rgba_png_named_jpg":
        rgba = image.convert("RGBA")
        alpha = Image.new("L", image.size, 255)
        ImageDraw.Draw(alpha).rectangle([0, 0, image.size[0] // 5, image.size[1]], fill=0)
        rgba.putalpha(alpha)
        rgba.save(path, "PNG")
    elif kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "truncated_jpeg":
        image.save(path, "JPEG", quality=90)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])


def make_cartoon_dataset(
    root: str | Path,
    per_class: int = 100,
    seed: int = 0,
    test_fraction: float = 0.3,
    classes: list[int] | None = None,
    odd_files: bool = False,
    overwrite: bool = True,
    progress: bool | None = None,
) -> Path:
    """Draw ``per_class`` images for each label id in ``classes`` (default all 13) into ``root``
    in the Oxford-IIIT Pet layout and return ``root``.

    ``other`` images are dogs spread over several Oxford dog breeds (named like "beagle_3.jpg").
    ``test_fraction`` of each label goes to test.txt, the rest to trainval.txt. With
    ``odd_files`` a few trainval files of different classes are replaced by the awkward kinds in
    ``ODD_FILES`` (see ``odd_file_names``)."""
    root = Path(root)
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    classes = list(range(len(LABELS))) if classes is None else [int(c) for c in classes]
    images, ann = root / "images", root / "annotations"
    if overwrite:
        for d in (images, ann):
            if d.exists():
                shutil.rmtree(d)
    images.mkdir(parents=True, exist_ok=True)
    ann.mkdir(parents=True, exist_ok=True)

    stems_by_class: dict[str, list[str]] = {}
    jobs = []
    for label in classes:
        for k in range(per_class):
            kind = DOG_KINDS[k % len(DOG_KINDS)] if label == OTHER_ID else None
            oxford_class = kind or CAT_BREEDS[label]
            stems = stems_by_class.setdefault(oxford_class, [])
            stem = f"{oxford_class}_{len(stems) + 1}"
            stems.append(stem)
            jobs.append((label, k, kind, stem))
    show = progress if progress is not None else len(jobs) > 2000
    for label, k, kind, stem in tqdm(jobs, desc="drawing cartoon cats", unit="img", disable=not show):
        rng = np.random.default_rng([seed, label, k])
        img = draw_class(label, rng, _image_size(rng), dog_kind=kind)
        img.save(images / f"{stem}.jpg", "JPEG", quality=int(rng.integers(75, 96)))

    # split per label (not per dog breed) so every label gets its test_fraction even when small
    split_rng = np.random.default_rng([seed, 10_000])
    trainval, test = [], []
    for label in classes:
        stems = [stem for lab, _, _, stem in jobs if lab == label]
        order = split_rng.permutation(len(stems))
        n_test = round(len(stems) * test_fraction)
        if test_fraction > 0 and len(stems) >= 2:
            n_test = min(max(n_test, 1), len(stems) - 1)
        test_set = {stems[i] for i in order[:n_test]}
        for stem in stems:
            (test if stem in test_set else trainval).append(stem)

    def row(stem: str) -> str:
        class_id, species, breed_id = oxford_ids(stem.rpartition("_")[0])
        return f"{stem} {class_id} {species} {breed_id}\n"

    def order(stems):  # Oxford order: by CLASS-ID, then name
        return sorted(stems, key=lambda s: (OXFORD_CLASSES.index(s.rpartition("_")[0]), s))

    trainval, test = order(trainval), order(test)
    everything = order(trainval + test)
    (ann / "list.txt").write_text(LIST_HEADER + "".join(row(s) for s in everything))
    (ann / "trainval.txt").write_text("".join(row(s) for s in trainval))
    (ann / "test.txt").write_text("".join(row(s) for s in test))

    if odd_files:
        for kind, stem in odd_file_names(root).items():
            path = images / f"{stem}.jpg"
            with Image.open(path) as im:
                _write_odd(path, kind, im.convert("RGB"))
    return root


def odd_file_names(root: str | Path) -> dict[str, str]:
    """Which trainval stems ``make_cartoon_dataset(odd_files=True)`` replaces: the first trainval
    image of successive classes, one awkward kind each (stable for a given dataset)."""
    rows = (Path(root) / "annotations" / "trainval.txt").read_text().split()
    stems = rows[::4]
    picked, seen = [], set()
    for stem in stems:
        cls = stem.rpartition("_")[0]
        if cls not in seen:
            seen.add(cls)
            picked.append(stem)
    if len(picked) < len(ODD_FILES):
        raise ValueError("odd_files needs trainval images of at least 5 classes")
    return dict(zip(ODD_FILES, picked))


def montage(root: str | Path, out: str | Path, per_class: int = 8, cell: int = 96, split: str = "all") -> Path:
    """A PNG grid: one row per class (label name at left), ``per_class`` images each."""
    from .layouts import load_records

    records = load_records(root, split=split)
    by_label: dict[int, list] = {}
    for r in records:
        by_label.setdefault(r.label, []).append(r)
    rows = sorted(by_label)
    label_w = 120
    sheet = Image.new("RGB", (label_w + per_class * cell, len(rows) * cell), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    from .images import open_rgb

    for i, label in enumerate(rows):
        draw.text((4, i * cell + cell // 2 - 6), LABELS[label], fill=(0, 0, 0))
        for j, r in enumerate(by_label[label][:per_class]):
            try:
                im = open_rgb(r.path)
            except Exception:
                continue
            im.thumbnail((cell - 4, cell - 4))
            sheet.paste(im, (label_w + j * cell + 2, i * cell + 2))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
