"""The drawing toolkit of the cartoon cats: colour helpers and a ``Pen`` in body coordinates."""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import ImageDraw

SS = 2  # supersampling factor: draw at 2x, then halve for smooth edges
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


def _hsv(h, s, v) -> Color:
    return _clip([c * 255 for c in colorsys.hsv_to_rgb(h, s, v)])
