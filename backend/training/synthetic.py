"""Procedural patent-style multi-view line drawings for pretraining the default checkpoint.

Objects (chairs, stools, tables, benches, sofas, cabinets, lamps, bottles, vases, cups, bowls,
teapots, shoes, flashlights) are built from 3-D primitives (prisms, surfaces of revolution, swept
tubes) with random proportions, and rendered as black line art with hidden-surface removal
(back-face culling + painter's algorithm; silhouettes and creases drawn, smooth facets not) from the
standard patent views: front/rear/left/right elevations, top/bottom plans and perspective views.
Each generated "patent" is one object instance with several figures and USPTO-style figure
descriptions ("FIG. 2 is a right side elevational view thereof;"). Class frequencies are long-tailed
(Zipf). Everything is a pure function of the seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

# ------------------------------------------------------------------------------------------------
# meshes


@dataclass
class Mesh:
    vertices: np.ndarray                 # (n, 3)
    faces: list[tuple[int, ...]]         # vertex indices, counter-clockwise seen from outside
    groups: list[int]                    # smoothing group per face; edges inside a group are not drawn

    def transformed(self, rotation: np.ndarray | None = None, offset=(0, 0, 0), scale=1.0) -> Mesh:
        v = self.vertices * scale
        if rotation is not None:
            v = v @ rotation.T
        return Mesh(v + np.asarray(offset, dtype=float), self.faces, self.groups)


_GROUP = [0]


def _new_group() -> int:
    _GROUP[0] += 1
    return _GROUP[0]


def rot_x(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def prism(polygon, z0: float, z1: float, smooth_sides: bool = False) -> Mesh:
    """Extrude a counter-clockwise 2-D polygon (xy) from z0 to z1."""
    poly = np.asarray(polygon, dtype=float)
    n = len(poly)
    verts = np.concatenate([np.c_[poly, np.full(n, z0)], np.c_[poly, np.full(n, z1)]])
    faces = [tuple(range(n - 1, -1, -1)), tuple(range(n, 2 * n))]
    groups = [_new_group(), _new_group()]
    side = _new_group()
    for i in range(n):
        j = (i + 1) % n
        faces.append((i, j, n + j, n + i))
        groups.append(side if smooth_sides else _new_group())
    return Mesh(verts, faces, groups)


def box(sx, sy, sz, center=(0, 0, 0)) -> Mesh:
    hx, hy = sx / 2, sy / 2
    m = prism([(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)], -sz / 2, sz / 2)
    return m.transformed(offset=center)


def rounded_rect(sx, sy, r, n=4):
    r = min(r, sx / 2 * 0.99, sy / 2 * 0.99)
    pts = []
    for cx, cy, a0 in ((sx / 2 - r, -sy / 2 + r, -90), (sx / 2 - r, sy / 2 - r, 0),
                       (-sx / 2 + r, sy / 2 - r, 90), (-sx / 2 + r, -sy / 2 + r, 180)):
        for k in range(n + 1):
            a = math.radians(a0 + 90 * k / n)
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def lathe(profile, segments: int = 24, crease_deg: float = 30.0) -> Mesh:
    """Surface of revolution about z of a profile [(r, z), ...] from the bottom axis to the top axis."""
    prof = [(float(r), float(z)) for r, z in profile]
    rings = len(prof)
    verts = []
    for r, z in prof:
        for j in range(segments):
            a = 2 * math.pi * j / segments
            verts.append((r * math.cos(a), r * math.sin(a), z))
    faces, groups = [], []
    group = _new_group()
    prev_dir = None
    for i in range(rings - 1):
        (r0, z0), (r1, z1) = prof[i], prof[i + 1]
        d = (r1 - r0, z1 - z0)
        flat = abs(z1 - z0) < 1e-9
        if prev_dir is not None:
            cosang = (d[0] * prev_dir[0] + d[1] * prev_dir[1]) / (math.hypot(*d) * math.hypot(*prev_dir) + 1e-12)
            if cosang < math.cos(math.radians(crease_deg)):
                group = _new_group()
        prev_dir = d
        g = _new_group() if flat else group
        if flat:  # a disc or annulus: one polygon when it closes at the axis
            if r0 < 1e-9 or r1 < 1e-9:
                ring = (i + 1) if r0 < 1e-9 else i
                faces.append(_cap(ring, segments, top=(r1 < 1e-9)))
                groups.append(g)
                continue
        for j in range(segments):
            k = (j + 1) % segments
            quad = [i * segments + j, i * segments + k, (i + 1) * segments + k, (i + 1) * segments + j]
            faces.append(tuple(quad))
            groups.append(g)
    mesh = Mesh(np.asarray(verts), faces, groups)
    return _dedupe(mesh)


def _cap(ring: int, segments: int, top: bool) -> tuple[int, ...]:
    idx = [ring * segments + j for j in range(segments)]
    return tuple(idx) if top else tuple(idx[::-1])


def _dedupe(mesh: Mesh) -> Mesh:
    faces, groups = [], []
    v = mesh.vertices
    for f, g in zip(mesh.faces, mesh.groups):
        out = []
        for idx in f:
            if not out or np.linalg.norm(v[idx] - v[out[-1]]) > 1e-9:
                out.append(idx)
        if len(out) > 1 and np.linalg.norm(v[out[0]] - v[out[-1]]) < 1e-9:
            out.pop()
        if len(out) >= 3:
            faces.append(tuple(out))
            groups.append(g)
    return Mesh(v, faces, groups)


def cylinder(r, h, center=(0, 0, 0), segments=20, r_top=None) -> Mesh:
    rt = r if r_top is None else r_top
    return lathe([(0, -h / 2), (r, -h / 2), (rt, h / 2), (0, h / 2)], segments).transformed(offset=center)


def tube(path, radius, segments=10) -> Mesh:
    """A smooth tube swept along a 3-D polyline (open ends are capped)."""
    path = np.asarray(path, dtype=float)
    n = len(path)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True) + 1e-12
    ref = np.array([0.0, 0.0, 1.0]) if abs(tangents[0][2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    verts = []
    for p, t in zip(path, tangents):
        u = np.cross(t, ref)
        u /= np.linalg.norm(u) + 1e-12
        w = np.cross(t, u)
        for j in range(segments):
            a = 2 * math.pi * j / segments
            verts.append(p + radius * (math.cos(a) * u + math.sin(a) * w))
    verts = np.asarray(verts)
    faces, groups = [], []
    g = _new_group()
    for i in range(n - 1):
        for j in range(segments):
            k = (j + 1) % segments
            quad = (i * segments + j, i * segments + k, (i + 1) * segments + k, (i + 1) * segments + j)
            center = (path[i] + path[i + 1]) / 2
            if np.dot(_normal(verts[list(quad)]), verts[list(quad)].mean(0) - center) < 0:
                quad = quad[::-1]
            faces.append(quad)
            groups.append(g)
    for ring, sign in ((0, -1), (n - 1, 1)):
        cap = tuple(ring * segments + j for j in range(segments))
        if np.dot(_normal(verts[list(cap)]), sign * tangents[ring]) < 0:
            cap = cap[::-1]
        faces.append(cap)
        groups.append(_new_group())
    return Mesh(verts, faces, groups)


def _normal(pts: np.ndarray) -> np.ndarray:
    """Newell's method."""
    nx = ny = nz = 0.0
    for i in range(len(pts)):
        x0, y0, z0 = pts[i]
        x1, y1, z1 = pts[(i + 1) % len(pts)]
        nx += (y0 - y1) * (z0 + z1)
        ny += (z0 - z1) * (x0 + x1)
        nz += (x0 - x1) * (y0 + y1)
    return np.array([nx, ny, nz])


# ------------------------------------------------------------------------------------------------
# rendering

@dataclass(frozen=True)
class View:
    name: str          # viewpoint as patents write it: "front elevational", "top plan", ...
    azimuth: float     # degrees, rotation of the object about the vertical axis
    elevation: float   # degrees, camera above (+) or below (-) the horizon


VIEWS = {
    "front perspective": View("front perspective", -35, 25),
    "front left perspective": View("front left perspective", 35, 25),
    "rear perspective": View("rear perspective", 180 - 35, 25),
    "front elevational": View("front elevational", 0, 0),
    "rear elevational": View("rear elevational", 180, 0),
    "right side elevational": View("right side elevational", -90, 0),
    "left side elevational": View("left side elevational", 90, 0),
    "top plan": View("top plan", 0, 90),
    "bottom plan": View("bottom plan", 0, -90),
}


def _camera(view: View) -> np.ndarray:
    return rot_x(math.radians(view.elevation)) @ rot_z(math.radians(view.azimuth))


def render(meshes: list[Mesh], view: View, size: int = 256, line_width: float = 1.5,
           margin: float = 0.08, supersample: int = 2) -> Image.Image:
    """Black line art on white, mode "L", ``size`` x ``size``."""
    cam = _camera(view)
    polys = []  # (depth, screen points, edges to draw)
    all_pts = []
    for mesh in meshes:
        v = mesh.vertices @ cam.T
        screen = np.c_[v[:, 0], v[:, 2]]
        toward = -v[:, 1]
        all_pts.append(screen)
        normals = [(_normal(v[list(f)])) for f in mesh.faces]
        front = [(-n[1]) > 1e-9 for n in normals]
        edge_faces: dict[tuple[int, int], list[int]] = {}
        for fi, f in enumerate(mesh.faces):
            for a, b in zip(f, f[1:] + f[:1]):
                edge_faces.setdefault((min(a, b), max(a, b)), []).append(fi)
        for fi, f in enumerate(mesh.faces):
            if not front[fi]:
                continue
            edges = []
            for a, b in zip(f, f[1:] + f[:1]):
                others = [g for g in edge_faces[(min(a, b), max(a, b))] if g != fi]
                draw = (not others or any(not front[g] for g in others)
                        or any(mesh.groups[g] != mesh.groups[fi] for g in others))
                if draw:
                    edges.append((a, b))
            polys.append((float(toward[list(f)].mean()), screen, f, edges))
    pts = np.concatenate(all_pts)
    lo, hi = pts.min(0), pts.max(0)
    span = float(max(hi - lo)) or 1.0
    s = size * supersample
    scale = s * (1 - 2 * margin) / span
    center = (lo + hi) / 2

    def xy(screen, idx):
        p = (screen[idx] - center) * scale
        return (s / 2 + p[0], s / 2 - p[1])

    img = Image.new("L", (s, s), 255)
    draw = ImageDraw.Draw(img)
    width = max(1, int(round(line_width * supersample)))
    for _, screen, f, edges in sorted(polys, key=lambda p: p[0]):
        draw.polygon([xy(screen, i) for i in f], fill=255)
        for a, b in edges:
            draw.line([xy(screen, a), xy(screen, b)], fill=0, width=width)
    if supersample > 1:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img


# ------------------------------------------------------------------------------------------------
# objects: each builder returns (meshes, object name, title)

def _u(rng, a, b):
    return float(rng.uniform(a, b))


def _legs(rng, sx, sy, h, z_top, thick, round_legs, inset=0.0):
    out = []
    for x in (-1, 1):
        for y in (-1, 1):
            c = (x * (sx / 2 - thick / 2 - inset), y * (sy / 2 - thick / 2 - inset), z_top - h / 2)
            out.append(cylinder(thick / 2, h, c, 12) if round_legs else box(thick, thick, h, c))
    return out


def build_chair(rng):
    sx, sy, seat_h = _u(rng, .8, 1.1), _u(rng, .8, 1.0), _u(rng, .8, 1.0)
    t = _u(rng, .06, .12)
    parts = _legs(rng, sx, sy, seat_h, seat_h, _u(rng, .06, .11), rng.random() < .4)
    parts.append(box(sx, sy, t, (0, 0, seat_h + t / 2)))
    back_h = _u(rng, .7, 1.2)
    if rng.random() < .5:
        parts.append(box(sx, .08, back_h, (0, sy / 2 - .04, seat_h + t + back_h / 2)))
    else:
        n = int(rng.integers(2, 5))
        for k in range(n):
            x = -sx / 2 + .05 + k * (sx - .1) / (n - 1)
            parts.append(box(.06, .06, back_h * .8, (x, sy / 2 - .04, seat_h + t + back_h * .4)))
        parts.append(box(sx, .08, back_h * .2, (0, sy / 2 - .04, seat_h + t + back_h * .9)))
    arm = rng.random() < .35
    if arm:
        for x in (-1, 1):
            parts.append(box(.08, sy, .06, (x * (sx / 2 - .04), 0, seat_h + t + .35)))
            parts.append(box(.06, .06, .35, (x * (sx / 2 - .04), -sy / 2 + .05, seat_h + t + .175)))
    name = "armchair" if arm else str(rng.choice(["chair", "dining chair", "side chair"]))
    return parts, name, name.capitalize()


def build_stool(rng):
    h, r = _u(rng, .9, 1.4), _u(rng, .3, .45)
    parts = [cylinder(r, _u(rng, .06, .12), (0, 0, h), 24)]
    n = int(rng.choice([3, 4]))
    for k in range(n):
        a = 2 * math.pi * k / n
        top = np.array([.7 * r * math.cos(a), .7 * r * math.sin(a), h])
        foot = np.array([1.2 * r * math.cos(a), 1.2 * r * math.sin(a), 0])
        parts.append(tube([foot, (foot + top) / 2, top], .035, 8))
    if rng.random() < .6:
        z = h * .35
        ring = [(1.0 * r * math.cos(a), 1.0 * r * math.sin(a), z) for a in np.linspace(0, 2 * math.pi, 25)]
        parts.append(tube(ring, .02, 6))
    name = str(rng.choice(["stool", "bar stool"]))
    return parts, name, name.capitalize()


def build_table(rng):
    sx, sy, h = _u(rng, 1.2, 2.2), _u(rng, .8, 1.2), _u(rng, .7, .9)
    t = _u(rng, .05, .1)
    if rng.random() < .3:
        r = sy / 2 * 1.2
        parts = [cylinder(r, t, (0, 0, h), 32),
                 lathe([(0, 0), (r * .5, 0), (r * .5, .05), (.07, .15), (.07, h - t / 2), (0, h - t / 2)], 20)]
        return parts, "round table", "Round table"
    parts = _legs(rng, sx, sy, h - t, h - t, _u(rng, .06, .1), rng.random() < .5, inset=.05)
    parts.append(box(sx, sy, t, (0, 0, h - t / 2)))
    if rng.random() < .5:
        parts.append(box(sx - .2, sy - .2, .08, (0, 0, h - t - .04)))
    name = str(rng.choice(["table", "dining table", "desk"]))
    return parts, name, name.capitalize()


def build_bench(rng):
    sx, sy, h = _u(rng, 1.6, 2.6), _u(rng, .4, .6), _u(rng, .4, .5)
    t = .07
    parts = []
    for x in (-1, 1):
        parts.append(box(.08, sy * .9, h, (x * (sx / 2 - .15), 0, h / 2)))
    n = int(rng.integers(1, 4))
    for k in range(n):
        w = sy / n
        parts.append(box(sx, w * .85, t, (0, -sy / 2 + w * (k + .5), h + t / 2)))
    if rng.random() < .5:
        parts.append(box(sx, .06, .4, (0, sy / 2, h + .35)))
        name = "garden bench"
    else:
        name = "bench"
    return parts, name, name.capitalize()


def build_sofa(rng):
    sx, sy, h = _u(rng, 1.8, 2.6), _u(rng, .8, 1.0), _u(rng, .35, .45)
    parts = [box(sx, sy, h, (0, 0, h / 2 + .08))]
    parts += _legs(rng, sx, sy, .08, .08, .06, True, inset=.05)
    parts.append(box(sx, .22, .45, (0, sy / 2 - .11, h + .08 + .225)))
    for x in (-1, 1):
        parts.append(box(.2, sy, .25, (x * (sx / 2 - .1), 0, h + .08 + .125)))
    n = int(rng.integers(2, 4))
    cw = (sx - .4) / n
    for k in range(n):
        parts.append(box(cw * .96, sy - .26, .12, (-sx / 2 + .2 + cw * (k + .5), -.11, h + .08 + .06)))
    name = str(rng.choice(["sofa", "couch", "loveseat"]))
    return parts, name, name.capitalize()


def build_cabinet(rng):
    sx, sy, h = _u(rng, .6, 1.2), _u(rng, .4, .6), _u(rng, .8, 1.6)
    parts = [box(sx, sy, h, (0, 0, h / 2 + .1))]
    parts += _legs(rng, sx, sy, .1, .1, .06, rng.random() < .5)
    n = int(rng.integers(2, 6))
    dh = (h - .1) / n
    for k in range(n):
        z = .15 + dh * (k + .5)
        parts.append(box(sx - .08, .03, dh * .9, (0, -sy / 2 - .015, z)))
        parts.append(box(.12, .04, .03, (0, -sy / 2 - .05, z + dh * .25)))  # handle
    name = str(rng.choice(["cabinet", "chest of drawers", "dresser"]))
    return parts, name, name.capitalize()


def build_lamp(rng):
    rb, hb = _u(rng, .25, .4), _u(rng, .04, .1)
    pole = _u(rng, .8, 1.4)
    rs0, rs1, hs = _u(rng, .35, .5), _u(rng, .18, .3), _u(rng, .3, .5)
    parts = [lathe([(0, 0), (rb, 0), (rb * .9, hb), (.05, hb * 1.5), (0, hb * 1.5)], 24),
             cylinder(.025, pole, (0, 0, hb + pole / 2), 10),
             lathe([(0, 0), (rs0, 0), (rs1, hs), (0, hs)], 28).transformed(offset=(0, 0, hb + pole - hs * .4))]
    name = str(rng.choice(["table lamp", "lamp", "floor lamp"]))
    return parts, name, name.capitalize()


def _profile(rng, kind):
    if kind == "bottle":
        r, h = _u(rng, .25, .4), _u(rng, 1.2, 1.8)
        neck = _u(rng, .08, .13)
        sh = h * _u(rng, .55, .7)
        return [(0, 0), (r, 0), (r, sh), (r * .7, sh + .12), (neck, sh + .3), (neck, h), (neck * 1.15, h),
                (neck * 1.15, h + .12), (0, h + .12)]
    if kind == "vase":
        r, h = _u(rng, .3, .5), _u(rng, 1.0, 1.6)
        zs = np.linspace(0, h, 9)
        bulge = _u(rng, .2, .6)
        rs = [r * (.6 + bulge * math.sin(math.pi * z / h * _u(rng, .8, 1.2))) + .05 for z in zs]
        rs[-1] = rs[-2] * 1.15
        return [(0, 0)] + list(zip(rs, zs)) + [(0, h)]
    if kind == "cup":
        r0, r1, h = _u(rng, .25, .35), _u(rng, .32, .45), _u(rng, .5, .8)
        return [(0, 0), (r0, 0), (r1, h), (0, h)]
    if kind == "bowl":
        r, h = _u(rng, .5, .8), _u(rng, .2, .4)
        zs = np.linspace(0, h, 6)
        return [(0, 0)] + [(r * .45 + r * .55 * math.sqrt(z / h), z) for z in zs] + [(0, h)]
    if kind == "teapot":
        r, h = _u(rng, .4, .55), _u(rng, .6, .9)
        return [(0, 0), (r * .7, 0), (r, h * .35), (r * .95, h * .6), (r * .55, h), (r * .25, h * 1.05),
                (r * .25, h * 1.15), (0, h * 1.15)]
    raise ValueError(kind)


def build_bottle(rng):
    return [lathe(_profile(rng, "bottle"), 24)], str(rng.choice(["bottle", "water bottle"])), "Bottle"


def build_vase(rng):
    return [lathe(_profile(rng, "vase"), 24)], "vase", "Vase"


def build_cup(rng):
    prof = _profile(rng, "cup")
    r1, h = prof[2]
    parts = [lathe(prof, 24)]
    handle = rng.random() < .8
    if handle:
        a = np.linspace(-math.pi / 2, math.pi / 2, 9)
        rr = h * .3
        path = [(r1 * .92 + rr * math.cos(t) * 1.1, 0, h / 2 + rr * math.sin(t)) for t in a]
        parts.append(tube(path, .035, 8))
    name = "mug" if handle and rng.random() < .5 else "cup"
    return parts, name, name.capitalize()


def build_bowl(rng):
    return [lathe(_profile(rng, "bowl"), 28)], str(rng.choice(["bowl", "serving bowl"])), "Bowl"


def build_teapot(rng):
    prof = _profile(rng, "teapot")
    r, h = prof[2][0], prof[4][1]
    parts = [lathe(prof, 24)]
    spout = [(r * .9, 0, h * .3), (r * 1.25, 0, h * .5), (r * 1.45, 0, h * .8)]
    parts.append(tube(spout, .05, 8))
    a = np.linspace(-math.pi / 2, math.pi / 2, 9)
    parts.append(tube([(-r * .9 - h * .25 * math.cos(t), 0, h * .5 + h * .25 * math.sin(t)) for t in a], .04, 8))
    name = str(rng.choice(["teapot", "kettle"]))
    return parts, name, name.capitalize()


def build_shoe(rng):
    L, W = _u(rng, 1.0, 1.3), _u(rng, .35, .45)
    foot = []
    for k in range(20):
        a = 2 * math.pi * k / 20
        x = L / 2 * math.cos(a)
        y = W / 2 * math.sin(a) * (1.0 if x > 0 else .85)
        foot.append((x, y))
    sole_t = _u(rng, .06, .14)
    parts = [prism(foot, 0, sole_t, smooth_sides=True)]
    top = _u(rng, .3, .5)
    side = [(-L / 2 + .02, 0), (L / 2 - .02, 0), (L / 2 - .08, .12), (L * .1, top * .55),
            (-L * .2, top), (-L / 2 + .05, top)]
    upper = prism(side, -W * .42, W * .42, smooth_sides=False).transformed(rot_x(math.pi / 2), (0, 0, sole_t))
    parts.append(upper)
    name = str(rng.choice(["shoe", "sneaker", "boot"])) if top > .45 else str(rng.choice(["shoe", "sneaker"]))
    return parts, name, name.capitalize()


def build_flashlight(rng):
    L, r = _u(rng, 1.2, 1.8), _u(rng, .1, .15)
    prof = [(0, 0), (r, 0), (r, L * .7), (r * 1.6, L * .85), (r * 1.6, L), (0, L)]
    parts = [lathe(prof, 20).transformed(rot_y(math.pi / 2), (-L / 2, 0, r * 1.6))]
    parts.append(box(.12, .06, .05, (0, 0, r * 2.6 + .02)))
    return parts, "flashlight", "Flashlight"


CATALOGUE = {
    # class: (builder, Locarno class-subclass)
    "chair": (build_chair, "06-01"),
    "table": (build_table, "06-03"),
    "lamp": (build_lamp, "26-05"),
    "bottle": (build_bottle, "09-01"),
    "cup": (build_cup, "07-01"),
    "shoe": (build_shoe, "02-04"),
    "stool": (build_stool, "06-01"),
    "vase": (build_vase, "11-02"),
    "sofa": (build_sofa, "06-01"),
    "bowl": (build_bowl, "07-01"),
    "cabinet": (build_cabinet, "06-04"),
    "bench": (build_bench, "06-01"),
    "teapot": (build_teapot, "07-01"),
    "flashlight": (build_flashlight, "26-02"),
}

# ------------------------------------------------------------------------------------------------
# patents and figures

DESCRIPTION_STYLES = (
    "FIG. {n} is a {view} view of {a} {obj}{tail}",
    "FIG. {n} is a {view} view thereof;",
    "FIG. {n} is a {view} view of the {obj} of FIG. 1;",
)
EXTRA_VIEWS = ("front elevational", "rear elevational", "right side elevational", "left side elevational",
               "top plan", "bottom plan", "rear perspective", "front left perspective")


@dataclass
class SyntheticFigure:
    patent: str
    figure: int
    image: Image.Image
    description: str
    viewpoint: str
    object_name: str
    title: str
    label: str          # object class (the catalogue key)
    locarno: str


@dataclass
class SyntheticPatent:
    patent: str
    label: str
    title: str
    object_name: str
    locarno: str
    figures: list[SyntheticFigure] = field(default_factory=list)


def class_counts(n_patents: int, classes: list[str] | None = None, alpha: float = 1.1,
                 min_count: int = 2) -> dict[str, int]:
    """Zipf-like long-tailed number of patents per class (most frequent first)."""
    classes = list(classes or CATALOGUE)
    raw = np.array([1.0 / (r + 1) ** alpha for r in range(len(classes))])
    counts = np.maximum(min_count, np.floor(raw / raw.sum() * n_patents)).astype(int)
    counts[0] += max(0, n_patents - int(counts.sum()))
    return dict(zip(classes, counts.tolist()))


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def make_patent(label: str, index: int, seed: int, size: int = 192, max_views: int = 6) -> SyntheticPatent:
    rng = np.random.default_rng([seed, index, sum(map(ord, label))])
    builder, locarno = CATALOGUE[label]
    meshes, obj, title = builder(rng)
    pid = f"SYN{label[:3].upper()}{index:05d}"
    n_extra = int(rng.integers(2, max_views))
    views = ["front perspective"] + list(rng.choice(EXTRA_VIEWS, size=n_extra, replace=False))
    line_width = _u(rng, 1.0, 2.2) * size / 192
    tail = str(rng.choice([";", " according to the present design;", ", showing the new design;",
                           " embodying the new design;"]))
    patent = SyntheticPatent(pid, label, title, obj, locarno)
    for n, view_name in enumerate(views, start=1):
        view = VIEWS[view_name]
        jitter = View(view.name, view.azimuth + _u(rng, -6, 6) if view.elevation not in (90, -90) else view.azimuth,
                      view.elevation + (_u(rng, -5, 5) if abs(view.elevation) == 25 else 0))
        img = render(meshes, jitter, size=size, line_width=line_width, margin=_u(rng, .05, .2))
        style = DESCRIPTION_STYLES[0] if n == 1 else DESCRIPTION_STYLES[int(rng.integers(1, 3))]
        vp_text = view_name
        if "side" in view_name:
            vp_text = view_name.replace(" elevational", str(rng.choice([" elevational", " elevation", ""])))
        elif "elevational" in view_name:
            vp_text = view_name.replace("elevational", str(rng.choice(["elevational", "elevation"])))
        desc = style.format(n=n, view=vp_text, a=_article(obj), obj=obj, tail=tail)
        patent.figures.append(SyntheticFigure(pid, n, img, desc, view_name, obj, title, label, locarno))
    return patent


def generate(n_patents: int = 200, seed: int = 0, size: int = 192, classes: list[str] | None = None,
             progress: bool = False) -> list[SyntheticPatent]:
    """A long-tailed synthetic design-patent collection (deterministic for a seed)."""
    counts = class_counts(n_patents, classes)
    jobs = [(label, i) for label, c in counts.items() for i in range(c)]
    iterator = jobs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(jobs, desc="rendering synthetic patents", unit="patent")
    return [make_patent(label, i, seed, size=size) for label, i in iterator]
