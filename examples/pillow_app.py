"""An edge app that reads its image with Pillow: a `--check` for `wheel-ddmin --with pillow`.

    python examples/pillow_app.py MODEL.tflite [IMAGE]     (default image: fixtures/frame.png)

It resizes the image to the model's input with Pillow (bilinear), scales it to [-1, 1] with numpy,
runs the model and prints every output exactly (the repr of each value), then a softmax and the
top 3, so any difference in numpy's or the runtime's arithmetic changes what it prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:
    from ai_edge_litert.interpreter import Interpreter

DEFAULT_IMAGE = Path(__file__).resolve().parent.parent / "fixtures" / "frame.png"


def load(path: str, shape: np.ndarray) -> np.ndarray:
    """The image as the model's input: resized pixels for an image model, column means for a vector."""
    image = Image.open(path).convert("RGB")
    if len(shape) == 4:
        height, width, channels = (int(n) for n in shape[1:])
        resized = image.resize((width, height), Image.Resampling.BILINEAR)
        pixels = np.asarray(resized, dtype=np.float32)[..., :channels]
    else:
        size = int(np.prod(shape))
        gray = image.convert("L").resize((size, 4), Image.Resampling.BILINEAR)
        pixels = np.asarray(gray, dtype=np.float32).mean(axis=0)
    return (pixels / 127.5 - 1.0).reshape(shape)


def report(name: str, values: np.ndarray) -> None:
    flat = values.astype(np.float32).ravel()
    exp = np.exp(flat - flat.max())
    probs = exp / exp.sum()
    top = np.argsort(-probs, kind="stable")[:3]
    print(name, values.shape, flat.tolist())
    print("  top3", top.tolist(), [float(p) for p in probs[top]])


def main(model: str, image: str) -> int:
    interpreter = Interpreter(model_path=model)
    interpreter.allocate_tensors()
    (detail,) = interpreter.get_input_details()
    interpreter.set_tensor(detail["index"], load(image, detail["shape"]).astype(detail["dtype"]))
    interpreter.invoke()
    for out in interpreter.get_output_details():
        report(out["name"], interpreter.get_tensor(out["index"]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.splitlines()[2].strip())
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else str(DEFAULT_IMAGE)))
