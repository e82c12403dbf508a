"""The attack stand-ins: geometry of the planar clips, and the print/screen renders' defining traits."""

import io
import math

import numpy as np
from faceedge_train.liveness.attack_renders import capture, render_print, render_screen
from faceedge_train.liveness.planar_clips import FOCAL, FRAME_H, FRAME_W, card_homography, clip_poses, render_frame
from PIL import Image


def _photo() -> Image.Image:
    yy, xx = np.mgrid[0:60, 0:50]
    rgb = np.stack([xx * 5, yy * 4, 255 - xx * 5], axis=2).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def _project(h: np.ndarray, x: float, y: float) -> tuple[float, float]:
    p = h @ np.array([x, y, 1.0])
    return p[0] / p[2], p[1] / p[2]


def test_card_homography_is_a_pinhole_view_of_the_card():
    pose = {"yaw": 0.0, "pitch": 0.0, "roll": 0.0, "x": 0.0, "y": 0.0, "z": 500.0, "width": 100.0}
    h = card_homography(50, 60, pose)
    assert np.allclose(_project(h, 25, 30), (FRAME_W / 2, FRAME_H / 2))  # the card's centre on the optical axis
    assert math.isclose(_project(h, 50, 30)[0] - _project(h, 0, 30)[0], FOCAL * 100 / 500)  # 100 units at z=500
    turned = card_homography(50, 60, {**pose, "yaw": 40.0})
    left, right = _project(turned, 0, 30), _project(turned, 50, 30)
    assert right[0] - left[0] < FOCAL * 100 / 500  # foreshortened
    assert abs(_project(turned, 0, 0)[1] - _project(turned, 0, 60)[1]) != abs(
        _project(turned, 50, 0)[1] - _project(turned, 50, 60)[1]
    )  # perspective: the nearer edge looks taller


def test_planar_clip_frames_are_camera_frames():
    rng = np.random.default_rng(0)
    poses = clip_poses(5, rng, 30.0)
    assert len(poses) == 5 and max(abs(p["yaw"]) for p in poses) <= 30.0
    frame = Image.open(io.BytesIO(render_frame(_photo(), poses[0], rng)))
    assert frame.format == "JPEG" and frame.size == (FRAME_W, FRAME_H)


def _high_frequency(img: np.ndarray) -> float:
    g = img.astype(np.float32).mean(axis=2)
    return float(np.abs(np.diff(g, axis=1)).mean() + np.abs(np.diff(g, axis=0)).mean())


def test_print_and_screen_renders_carry_their_medium():
    rng = np.random.default_rng(0)
    flat = Image.new("RGB", (50, 60), (128, 128, 128))
    printed = np.asarray(render_print(flat, rng))
    screen = np.asarray(render_screen(flat, rng))
    assert printed.shape == (180, 150, 3)  # enlarged 3x
    assert _high_frequency(printed) > 5  # halftone dots and grain on a flat grey
    assert printed.min() >= 0 and printed.mean() < 250
    bezel = screen[0, 0]
    assert bezel.tolist() == [18, 18, 18] and screen.shape[0] > 180  # the dark bezel around the panel
    assert _high_frequency(screen[20:-20, 20:-20]) > 5  # the subpixel grid
    shot = Image.open(io.BytesIO(capture(Image.fromarray(printed), 300.0, rng)))
    assert shot.size == (FRAME_W, FRAME_H)
