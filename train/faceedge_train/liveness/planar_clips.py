"""Stand-ins for a photo held up to a camera: a still face photo moved as one rigid plane across frames.

Each clip renders the photo as a flat card in front of a pinhole camera (focal length 500 px, 480x360 frames)
that turns (yaw up to +-`max_yaw_deg`, pitch and roll smaller), drifts and comes closer, over a plain
noisy background; every frame then gets sensor noise and JPEG compression as a camera would add. The keypoints
the detector finds on these frames are what the temporal check (src/liveness/planar-motion.ts) sees of a
printed photo or a phone showing a still image. They are stand-ins, not attack recordings: no paper texture
or screen glare matters here, only the geometry.

    /usr/bin/python3 -m faceedge_train.liveness.planar_clips --out DIR --frames 30 PHOTO...

writes DIR/<photo stem>/0000.jpg ... and DIR/poses.json (each clip's per-frame pose, for the record).
"""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

FRAME_W, FRAME_H, FOCAL = 480, 360, 500.0


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-frame rotation of the card: yaw about y, pitch about x, roll about z (radians)."""
    cy, sy, cp, sp, cr, sr = (
        math.cos(yaw),
        math.sin(yaw),
        math.cos(pitch),
        math.sin(pitch),
        math.cos(roll),
        math.sin(roll),
    )
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def card_homography(photo_w: int, photo_h: int, pose: dict) -> np.ndarray:
    """3x3 map from photo pixels to frame pixels for a card `pose['width']` world units wide."""
    k = pose["width"] / photo_w
    to_plane = np.array([[k, 0, -k * photo_w / 2], [0, k, -k * photo_h / 2], [0, 0, 1]])
    r = rotation(math.radians(pose["yaw"]), math.radians(pose["pitch"]), math.radians(pose["roll"]))
    extrinsic = np.column_stack([r[:, 0], r[:, 1], [pose["x"], pose["y"], pose["z"]]])
    intrinsic = np.array([[FOCAL, 0, FRAME_W / 2], [0, FOCAL, FRAME_H / 2], [0, 0, 1]])
    return intrinsic @ extrinsic @ to_plane


def clip_poses(frames: int, rng: np.random.Generator, max_yaw_deg: float) -> list[dict]:
    """A smooth trajectory: one yaw sweep, a slower pitch wave, slight roll, drift and approach."""
    phase = rng.uniform(0, 2 * math.pi)
    yaw_amp = rng.uniform(0.5, 1.0) * max_yaw_deg
    poses = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        poses.append(
            {
                "yaw": yaw_amp * math.sin(2 * math.pi * t + phase),
                "pitch": 0.5 * max_yaw_deg * math.sin(math.pi * t + phase) * rng.uniform(0.9, 1.0),
                "roll": 5.0 * math.sin(2 * math.pi * t),
                "x": 20 * math.sin(2 * math.pi * t + 1.0),
                "y": 10 * math.cos(2 * math.pi * t),
                "z": 520 - 120 * t,
                "width": 260.0,
            }
        )
    return poses


def render_frame(photo: Image.Image, pose: dict, rng: np.random.Generator) -> bytes:
    """One JPEG frame (quality 85) of the card in `pose` over a grey, noisy background."""
    h = card_homography(photo.width, photo.height, pose)
    inverse = np.linalg.inv(h)
    inverse /= inverse[2, 2]
    background = Image.fromarray(np.clip(rng.normal(118, 6, (FRAME_H, FRAME_W, 3)), 0, 255).astype(np.uint8), "RGB")
    mask = Image.new("L", photo.size, 255)
    coeffs = inverse.flatten()[:8].tolist()
    warped = photo.transform((FRAME_W, FRAME_H), Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    warped_mask = mask.transform((FRAME_W, FRAME_H), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    background.paste(warped, (0, 0), warped_mask)
    noisy = np.asarray(background, dtype=np.float32) + rng.normal(0, 2.0, (FRAME_H, FRAME_W, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--max-yaw", type=float, default=30.0, help="largest card yaw, degrees")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    record = {}
    for photo_path in args.photos:
        photo = Image.open(photo_path).convert("RGB")
        poses = clip_poses(args.frames, rng, args.max_yaw)
        folder = args.out / photo_path.stem
        folder.mkdir(parents=True, exist_ok=True)
        for i, pose in enumerate(poses):
            (folder / f"{i:04d}.jpg").write_bytes(render_frame(photo, pose, rng))
        record[photo_path.stem] = {"photo": str(photo_path), "poses": poses}
    (args.out / "poses.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
