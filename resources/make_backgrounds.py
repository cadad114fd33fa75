"""Make the default background images in resources/backgrounds (ours: drawn by this script).

    python resources/make_backgrounds.py
"""

import os

import cv2
import numpy as np

WIDTH, HEIGHT = 1280, 720
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "backgrounds")


def gradient(top, bottom):
    ramp = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    return np.broadcast_to(np.float32(top) * (1 - ramp) + np.float32(bottom) * ramp, (HEIGHT, WIDTH, 3)).copy()


def bokeh(base, colours, count, seed):
    rng = np.random.default_rng(seed)
    image = base.copy()
    for _ in range(count):
        layer = np.zeros_like(image)
        centre = (int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT)))
        cv2.circle(layer, centre, int(rng.integers(20, 90)), colours[rng.integers(len(colours))], -1)
        image = np.maximum(image, layer * rng.uniform(0.25, 0.7))
    return cv2.GaussianBlur(image, (0, 0), 9)


def main():
    os.makedirs(HERE, exist_ok=True)
    images = {
        "studio-grey.jpg": gradient((92, 92, 96), (40, 40, 44)),
        "evening-lights.jpg": bokeh(gradient((60, 30, 25), (20, 10, 10)),
                                    [(80, 170, 255), (120, 220, 255), (200, 120, 255)], 60, 1),
        "calm-blue.jpg": bokeh(gradient((170, 120, 60), (90, 60, 30)), [(255, 220, 180), (230, 200, 160)], 30, 2),
    }
    for name, image in images.items():
        cv2.imwrite(os.path.join(HERE, name), np.clip(image, 0, 255).astype(np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    main()
