"""Drawing one pet from its ``Look``: background, body, coat pattern, head, face."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from ...breeds import CAT_BREEDS, OTHER_ID
from .looks import DOG_KINDS, Look, cat_look, dog_look
from .pen import SS, Color, Pen, _hsv, _mix, _shade


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
