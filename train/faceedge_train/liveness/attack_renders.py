"""Stand-ins for printed-photo and on-screen-photo attacks, rendered from bona fide face photos.

Real presentation-attack recordings with terms that allow this use are scarce (the public databases are under
research-only licences), so these renders imitate what a camera sees of one:

- `print`: the photo enlarged 3x as a printer would, ink gamut (blacks lifted, whites dimmed, slightly
  desaturated), an amplitude-modulated halftone screen per channel at the usual screen angles, paper grain, a
  soft specular glare, then held as a card in front of the camera (perspective, frame noise, JPEG);
- `screen`: the photo enlarged 3x on an RGB-stripe pixel grid (one subpixel column per channel), display gamma
  and a cool white point, a bezel around it, a sharp reflection, then the same camera path (the grid's beat
  with the camera's sampling gives the moiré a replay shows);

each with framing `close` (the medium fills the view, no edge visible to the network's crop) or `held` (its
edges and the room around it are visible). They are named as stand-ins in every figure made from them.

    /usr/bin/python3 -m faceedge_train.liveness.attack_renders --out DIR PHOTO...

writes DIR/<kind>-<framing>/<photo stem>.jpg.
"""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .planar_clips import FRAME_H, FRAME_W, card_homography

KINDS = ("print", "screen")
FRAMINGS = {"close": 560.0, "held": 300.0}  # card width in world units at z = 520 (see planar_clips)


def _enlarge(photo: Image.Image, factor: int = 3) -> np.ndarray:
    return np.asarray(photo.resize((photo.width * factor, photo.height * factor), Image.BICUBIC), dtype=np.float32)


def _glare(h: int, w: int, rng: np.random.Generator, strength: float, sharpness: float) -> np.ndarray:
    cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
    yy, xx = np.mgrid[0:h, 0:w]
    radius = sharpness * min(h, w)
    return strength * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))[..., None]


def render_print(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo as an inkjet/laser print (see the module docstring)."""
    img = _enlarge(photo)
    grey = img.mean(axis=2, keepdims=True)
    img = 0.85 * img + 0.15 * grey  # inks are less saturated than a screen
    img = 28 + img * (232 - 28) / 255  # paper white and ink black
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    pitch = 4.0  # halftone cell, enlarged pixels
    out = np.empty_like(img)
    for c, angle in enumerate((15.0, 75.0, 0.0)):  # C, M, Y screen angles stand in for R, G, B ink coverage
        a = math.radians(angle)
        u = (xx * math.cos(a) + yy * math.sin(a)) * (2 * math.pi / pitch)
        v = (-xx * math.sin(a) + yy * math.cos(a)) * (2 * math.pi / pitch)
        screen = 0.5 + 0.25 * (np.cos(u) + np.cos(v))  # 0..1 threshold pattern
        ink = 1 - img[..., c] / 255
        dots = (ink > screen).astype(np.float32)
        out[..., c] = 255 * (1 - (0.55 * dots + 0.45 * ink))  # halftone blended with dye diffusion
    grain = rng.normal(1.0, 0.035, (h // 4 + 1, w // 4 + 1)).repeat(4, 0).repeat(4, 1)[:h, :w, None]
    out = out * grain + _glare(h, w, rng, rng.uniform(20, 60), 0.35)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


def render_screen(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo shown full-screen on an LCD with a bezel (see the module docstring)."""
    img = _enlarge(photo)
    img = 255 * (img / 255) ** 0.85 * np.array([0.94, 0.98, 1.05], dtype=np.float32)  # gamma, cool white
    h, w = img.shape[:2]
    stripes = np.zeros((h, w, 3), dtype=np.float32)
    for c in range(3):
        stripes[:, c::3, c] = 1.0
    stripes[2::3, :, :] *= 0.55  # the dark rows between pixel rows
    img = img * (0.35 + 0.65 * 3 * stripes / 2.0)
    img = img + _glare(h, w, rng, rng.uniform(30, 80), 0.12)
    bezel = max(h, w) // 14
    framed = np.full((h + 2 * bezel, w + 2 * bezel, 3), 18.0, dtype=np.float32)
    framed[bezel : bezel + h, bezel : bezel + w] = img
    return Image.fromarray(np.clip(framed, 0, 255).astype(np.uint8), "RGB")


def capture(medium: Image.Image, card_width: float, rng: np.random.Generator) -> bytes:
    """The medium held up to the camera: a slight random pose, background, blur, noise, JPEG 85."""
    pose = {
        "yaw": rng.uniform(-15, 15),
        "pitch": rng.uniform(-10, 10),
        "roll": rng.uniform(-5, 5),
        "x": rng.uniform(-15, 15),
        "y": rng.uniform(-10, 10),
        "z": 520.0,
        "width": card_width,
    }
    inverse = np.linalg.inv(card_homography(medium.width, medium.height, pose))
    coeffs = (inverse / inverse[2, 2]).flatten()[:8].tolist()
    room = np.clip(rng.normal(110, 8, (FRAME_H, FRAME_W, 3)), 0, 255).astype(np.uint8)
    frame = Image.fromarray(room, "RGB")
    warped = medium.transform((FRAME_W, FRAME_H), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    mask = Image.new("L", medium.size, 255).transform((FRAME_W, FRAME_H), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    frame.paste(warped, (0, 0), mask)
    frame = frame.filter(ImageFilter.GaussianBlur(0.6))
    noisy = np.asarray(frame, dtype=np.float32) + rng.normal(0, 2.5, (FRAME_H, FRAME_W, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    render = {"print": render_print, "screen": render_screen}
    for kind in KINDS:
        for framing, width in FRAMINGS.items():
            folder = args.out / f"{kind}-{framing}"
            folder.mkdir(parents=True, exist_ok=True)
            for photo_path in args.photos:
                medium = render[kind](Image.open(photo_path).convert("RGB"), rng)
                (folder / f"{photo_path.stem}.jpg").write_bytes(capture(medium, width, rng))


if __name__ == "__main__":
    main()
