"""An edge app that reads its image with Pillow and preprocesses it with OpenCV and numpy.

    python examples/opencv_app.py MODEL.tflite [IMAGE]     (default image: fixtures/frame.png)

A `--check` for `wheel-ddmin --with pillow --with opencv-python-headless`. OpenCV is built on
numpy's C API: what it needs from numpy (array conversion both ways) is what the minimized numpy
must keep. The app blurs and resizes the image with OpenCV (or, for a model that takes a vector,
takes its horizontal gradient), standardizes it per channel with numpy, runs the model and prints
every output exactly (the repr of each value), then a softmax and the top 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:
    from ai_edge_litert.interpreter import Interpreter

DEFAULT_IMAGE = Path(__file__).resolve().parent.parent / "fixtures" / "frame.png"


def preprocess(rgb: np.ndarray, shape: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(rgb, (5, 5), 1.2)
    if len(shape) == 4:
        height, width, channels = (int(n) for n in shape[1:])
        resized = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_AREA)
        x = resized.astype(np.float32)[..., :channels]
        x = (x - x.mean(axis=(0, 1))) / (x.std(axis=(0, 1)) + 1e-6)
    else:
        gray = cv2.cvtColor(blurred, cv2.COLOR_RGB2GRAY)
        gradient = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
        x = cv2.resize(gradient, (int(np.prod(shape)), 1), interpolation=cv2.INTER_AREA) / 255.0
    return np.clip(x, -3.0, 3.0).reshape(shape)


def report(name: str, values: np.ndarray) -> None:
    flat = values.astype(np.float32).ravel()
    exp = np.exp(flat - flat.max())
    probs = exp / exp.sum()
    top = np.argsort(-probs, kind="stable")[:3]
    print(name, values.shape, flat.tolist())
    print("  top3", top.tolist(), [float(p) for p in probs[top]])


def main(model: str, image: str) -> int:
    rgb = np.asarray(Image.open(image).convert("RGB"))
    interpreter = Interpreter(model_path=model)
    interpreter.allocate_tensors()
    (detail,) = interpreter.get_input_details()
    interpreter.set_tensor(detail["index"], preprocess(rgb, detail["shape"]).astype(detail["dtype"]))
    interpreter.invoke()
    for out in interpreter.get_output_details():
        report(out["name"], interpreter.get_tensor(out["index"]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.splitlines()[2].strip())
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else str(DEFAULT_IMAGE)))
