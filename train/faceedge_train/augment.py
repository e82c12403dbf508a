"""Batched, seeded augmentation "for the field", on whatever device the batch lives on.

The shipped model is judged on CelebA-style crops but also on faces from other sources (different
framing) and on camera crops (soft focus, sensor noise, MJPEG compression, odd white balance). So
each batch goes through, in the order a camera would apply them:

1. geometry: random scale, translation, rotation and horizontal flip, all folded into one affine
   matrix per image and applied with a single `affine_grid` + `grid_sample` (reflection padding,
   so no black corners that the model could learn as a cue);
2. colour: brightness, saturation, hue rotation (in YIQ) and random grayscale folded into one 3x3
   matrix per image, then contrast around the image mean;
3. gaussian blur (separable, per-image sigma), 4. gaussian noise (per-image sigma),
5. JPEG artefacts: a real JPEG codec without the lossless entropy stage (4:2:0 chroma subsampling,
   8x8 DCT, IJG quantization tables scaled by a per-image quality), see `jpeg_approx`.

Input: uint8 (N, 64, 64, 3) HWC crops. Output: float32 (N, 3, 64, 64) model input
(pixel - 128) / 128, rounded to whole pixel levels like the uint8 frames the board sees.
All random draws come from one `torch.Generator` on the batch's device, so a seed fixes them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .preprocess import normalize


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random draws; every default is on. Colour values are in [0, 1] units."""

    scale: tuple[float, float] = (0.85, 1.15)  # zoom factor (> 1 makes the face larger)
    translate: float = 0.08  # max shift, fraction of the image side, each axis
    rotate_deg: float = 15.0  # max in-plane rotation, degrees
    flip_p: float = 0.5  # probability of a horizontal flip
    brightness: float = 0.25  # gain drawn from [1 - b, 1 + b]
    contrast: float = 0.25  # contrast factor drawn from [1 - c, 1 + c]
    saturation: float = 0.3  # saturation factor drawn from [1 - s, 1 + s]
    hue_deg: float = 10.0  # max rotation of the chroma plane, degrees
    gray_p: float = 0.1  # probability of dropping colour altogether (IR / night cameras)
    blur_p: float = 0.2  # probability of a gaussian blur ...
    blur_sigma: tuple[float, float] = (0.4, 1.2)  # ... with sigma in pixels from this range
    noise_p: float = 0.2  # probability of additive gaussian noise ...
    noise_sigma: tuple[float, float] = (0.005, 0.03)  # ... with this std (0.03 = 7.7 pixel levels)
    jpeg_p: float = 0.3  # probability of JPEG artefacts ...
    jpeg_quality: tuple[int, int] = (25, 90)  # ... at an IJG quality from this range
    occlude_p: float = 0.0  # probability of one flat-coloured rectangle over the face (sunglasses, hand, mic) ...
    occlude_side: tuple[float, float] = (0.2, 0.5)  # ... its height and width, fractions of the image side

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_AUGMENT = AugmentConfig()  # frozen, so one shared default is safe

# JPEG Annex K base tables (luminance, chrominance), row-major 8x8.
# fmt: off
_JPEG_LUMA = [
     16,  11,  10,  16,  24,  40,  51,  61,
     12,  12,  14,  19,  26,  58,  60,  55,
     14,  13,  16,  24,  40,  57,  69,  56,
     14,  17,  22,  29,  51,  87,  80,  62,
     18,  22,  37,  56,  68, 109, 103,  77,
     24,  35,  55,  64,  81, 104, 113,  92,
     49,  64,  78,  87, 103, 121, 120, 101,
     72,  92,  95,  98, 112, 100, 103,  99,
]
_JPEG_CHROMA = [
     17,  18,  24,  47,  99,  99,  99,  99,
     18,  21,  26,  66,  99,  99,  99,  99,
     24,  26,  56,  99,  99,  99,  99,  99,
     47,  66,  99,  99,  99,  99,  99,  99,
     99,  99,  99,  99,  99,  99,  99,  99,
     99,  99,  99,  99,  99,  99,  99,  99,
     99,  99,  99,  99,  99,  99,  99,  99,
     99,  99,  99,  99,  99,  99,  99,  99,
]
# fmt: on
_RGB_TO_YIQ = [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
_RGB_TO_YCBCR = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
# Inverses computed once on the CPU: torch.linalg.inv on CUDA would stall every batch.
_YIQ_TO_RGB = torch.linalg.inv(torch.tensor(_RGB_TO_YIQ, dtype=torch.float64)).tolist()
_YCBCR_TO_RGB = torch.linalg.inv(torch.tensor(_RGB_TO_YCBCR, dtype=torch.float64)).tolist()


def _dct_matrix(device: torch.device) -> torch.Tensor:
    """Orthonormal 8-point DCT-II; D @ block @ D.T equals JPEG's forward DCT scaling."""
    k = torch.arange(8, dtype=torch.float32, device=device)
    d = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d


def jpeg_tables(quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IJG quality (1..100, one per image) -> (luma, chroma) quantization tables, (K, 8, 8) each."""
    q = quality.float().clamp(1, 100)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)[:, None]
    tables = []
    for base in (_JPEG_LUMA, _JPEG_CHROMA):
        b = torch.tensor(base, dtype=torch.float32, device=quality.device)[None, :]
        tables.append(torch.floor((b * scale + 50) / 100).clamp(1, 255).view(-1, 8, 8))
    return tables[0], tables[1]


def _quantize_blocks(plane: torch.Tensor, table: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """plane (K, H, W) in 0..255, H and W multiples of 8; table (K, 8, 8). DCT, round, inverse DCT."""
    k, h, w = plane.shape
    blocks = (plane - 128).reshape(k, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)
    coef = d @ blocks @ d.T
    t = table[:, None, None]
    coef = torch.round(coef / t) * t
    blocks = d.T @ coef @ d
    return blocks.permute(0, 1, 3, 2, 4).reshape(k, h, w) + 128


def jpeg_approx(x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Simulated JPEG round trip. x: float (K, 3, H, W) RGB in [0, 1], H, W multiples of 16;
    quality: (K,) IJG quality. Returns the decoded image in [0, 1] (what a baseline JPEG encoder
    with 4:2:0 subsampling gives, up to the decoder's chroma upsampling filter)."""
    k, _, h, w = x.shape
    m = torch.tensor(_RGB_TO_YCBCR, dtype=x.dtype, device=x.device)
    ycc = torch.einsum("ij,kjhw->kihw", m, x * 255)
    ycc[:, 1:] += 128
    d = _dct_matrix(x.device)
    luma_t, chroma_t = jpeg_tables(quality)
    y = _quantize_blocks(ycc[:, 0], luma_t, d)
    chroma = F.avg_pool2d(ycc[:, 1:], 2).reshape(k * 2, h // 2, w // 2)
    chroma = _quantize_blocks(chroma, chroma_t.repeat_interleave(2, dim=0), d).reshape(k, 2, h // 2, w // 2)
    chroma = F.interpolate(chroma, size=(h, w), mode="bilinear", align_corners=False)
    ycc = torch.cat([y[:, None], chroma - 128], dim=1)
    rgb = torch.einsum("ij,kjhw->kihw", torch.tensor(_YCBCR_TO_RGB, dtype=x.dtype, device=x.device), ycc)
    return (rgb / 255).clamp(0, 1)


def _uniform(n: int, low: float, high: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (high - low) + low


def _chance(n: int, p: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) < p


class Augmenter:
    """Callable that turns a uint8 NHWC batch into an augmented float NCHW model input.

    config: AugmentConfig (default ranges above); seed: generator seed (default 0);
    device: where the generator lives, must be the batch's device (default CPU).
    """

    def __init__(self, config: AugmentConfig = DEFAULT_AUGMENT, seed: int = 0, device: torch.device | str = "cpu"):
        self.config = config
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:  # batches say "cuda:0", not "cuda"
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.device != self.device:
            raise ValueError(f"batch on {images.device}, augmenter generator on {self.device}")
        x = images.permute(0, 3, 1, 2).float() / 255
        x = self.geometry(x)
        x = self.occlude(x)
        x = self.colour(x)
        x = self.blur(x)
        x = self.noise(x)
        x = self.jpeg(x)
        return normalize(torch.round(x.clamp(0, 1) * 255))

    def geometry(self, x: torch.Tensor) -> torch.Tensor:
        c, g, n, dev = self.config, self.generator, x.shape[0], x.device
        scale = _uniform(n, *c.scale, g, dev)
        angle = _uniform(n, -c.rotate_deg, c.rotate_deg, g, dev) * (math.pi / 180)
        shift = _uniform(2 * n, -c.translate, c.translate, g, dev).view(n, 2) * 2  # grid units span 2
        flip = torch.where(_chance(n, c.flip_p, g, dev), -1.0, 1.0)
        # theta maps output to input coordinates: shrink by the zoom, rotate, mirror x.
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def occlude(self, x: torch.Tensor) -> torch.Tensor:
        """Paint one axis-aligned rectangle of a random flat colour; it sits in the scene, so the
        camera stages (colour, blur, noise, JPEG) still apply to it."""
        c, g, n, dev = self.config, self.generator, x.shape[0], x.device
        if c.occlude_p <= 0:
            return x
        size = x.shape[-1]
        side = _uniform(2 * n, *c.occlude_side, g, dev).view(n, 2) * size
        corner = _uniform(2 * n, 0, 1, g, dev).view(n, 2) * (size - side)
        colour = torch.rand((n, 3, 1, 1), generator=g, device=dev, dtype=x.dtype)
        picked = _chance(n, c.occlude_p, g, dev)
        pos = torch.arange(size, device=dev, dtype=x.dtype) + 0.5
        rows = (pos[None, :] >= corner[:, :1]) & (pos[None, :] < corner[:, :1] + side[:, :1])
        cols = (pos[None, :] >= corner[:, 1:]) & (pos[None, :] < corner[:, 1:] + side[:, 1:])
        mask = (rows[:, :, None] & cols[:, None, :] & picked[:, None, None])[:, None]
        return torch.where(mask, colour, x)

    def colour(self, x: torch.Tensor) -> torch.Tensor:
        c, g, n, dev = self.config, self.generator, x.shape[0], x.device
        gain = _uniform(n, 1 - c.brightness, 1 + c.brightness, g, dev)
        sat = _uniform(n, 1 - c.saturation, 1 + c.saturation, g, dev)
        sat = torch.where(_chance(n, c.gray_p, g, dev), torch.zeros_like(sat), sat)
        hue = _uniform(n, -c.hue_deg, c.hue_deg, g, dev) * (math.pi / 180)
        contrast = _uniform(n, 1 - c.contrast, 1 + c.contrast, g, dev)
        yiq = torch.tensor(_RGB_TO_YIQ, dtype=x.dtype, device=dev)
        one, zero = torch.ones_like(sat), torch.zeros_like(sat)
        # In YIQ, saturation scales the (I, Q) chroma vector and hue rotates it; Y stays put.
        inner = torch.stack(
            [
                torch.stack([one, zero, zero], 1),
                torch.stack([zero, sat * torch.cos(hue), -sat * torch.sin(hue)], 1),
                torch.stack([zero, sat * torch.sin(hue), sat * torch.cos(hue)], 1),
            ],
            1,
        )
        to_rgb = torch.tensor(_YIQ_TO_RGB, dtype=x.dtype, device=dev)
        matrix = gain[:, None, None] * (to_rgb @ inner @ yiq)
        x = torch.einsum("nij,njhw->nihw", matrix, x)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * contrast[:, None, None, None] + mean

    def blur(self, x: torch.Tensor) -> torch.Tensor:
        c, g, n, dev = self.config, self.generator, x.shape[0], x.device
        sigma = _uniform(n, *c.blur_sigma, g, dev)
        return _on_subset(x, _chance(n, c.blur_p, g, dev), lambda xs, i: gaussian_blur(xs, sigma[i]))

    def noise(self, x: torch.Tensor) -> torch.Tensor:
        c, g, n, dev = self.config, self.generator, x.shape[0], x.device
        sigma = _uniform(n, *c.noise_sigma, g, dev)
        return _on_subset(
            x,
            _chance(n, c.noise_p, g, dev),
            lambda xs, i: (
                xs + sigma[i, None, None, None] * torch.randn(xs.shape, generator=g, device=dev, dtype=xs.dtype)
            ),
        )

    def jpeg(self, x: torch.Tensor) -> torch.Tensor:
        c, g, n, dev = self.config, self.generator, x.shape[0], x.device
        quality = torch.floor(_uniform(n, c.jpeg_quality[0], c.jpeg_quality[1] + 1, g, dev))
        return _on_subset(x, _chance(n, c.jpeg_p, g, dev), lambda xs, i: jpeg_approx(xs.clamp(0, 1), quality[i]))


def _on_subset(x: torch.Tensor, mask: torch.Tensor, fn) -> torch.Tensor:
    """Apply fn(x[picked], picked) only to the images where mask is set (saves ~70 % of the work)."""
    picked = mask.nonzero().squeeze(1)
    if picked.numel() == 0:
        return x
    x = x.clone()
    x[picked] = fn(x[picked], picked)
    return x


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable 7-tap gaussian blur with reflect padding. x: (N, C, H, W); sigma: (N,) pixels."""
    taps = torch.arange(-3, 4, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps[None, :] / sigma[:, None]) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(x.shape[1], dim=0)
    flat = x.reshape(1, -1, *x.shape[2:])  # one depthwise channel per (image, colour)
    groups = flat.shape[1]
    flat = F.conv2d(F.pad(flat, (3, 3, 0, 0), mode="reflect"), kernel[:, None, None, :], groups=groups)
    flat = F.conv2d(F.pad(flat, (0, 0, 3, 3), mode="reflect"), kernel[:, None, :, None], groups=groups)
    return flat.reshape(x.shape)
