"""A small edge app, usable as a `--check`: numpy pre- and post-processing around a TFLite model.

    python examples/app.py MODEL.tflite [MODEL.tflite ...]

For each model it makes two synthetic camera frames (uint8, 120x160x3), normalizes, clips and
resizes them to the model's input (nearest neighbour, by index arithmetic), runs the model, and
prints a softmax and the top-3 classes of every output, exactly (repr of each float), so any
difference in numpy's or the runtime's arithmetic changes what it prints.
"""

from __future__ import annotations

import sys

import numpy as np

try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:
    from ai_edge_litert.interpreter import Interpreter

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def frame(seed: int) -> np.ndarray:
    """A deterministic 'camera frame': gradients and stripes, no random generator needed."""
    rows = np.arange(120, dtype=np.int64).reshape(-1, 1, 1)
    cols = np.arange(160, dtype=np.int64).reshape(1, -1, 1)
    chans = np.arange(3, dtype=np.int64).reshape(1, 1, -1)
    return ((rows * (3 + seed) + cols * (5 + chans) + seed * 37) % 256).astype(np.uint8)


def preprocess(image: np.ndarray, shape: np.ndarray, dtype: type) -> np.ndarray:
    x = (image.astype(np.float32) / 255.0 - MEAN) / STD
    x = np.clip(x, -2.5, 2.5)
    if len(shape) == 4:
        height, width = int(shape[1]), int(shape[2])
        ys = np.linspace(0, image.shape[0] - 1, height).round().astype(np.intp)
        xs = np.linspace(0, image.shape[1] - 1, width).round().astype(np.intp)
        x = x[ys][:, xs][..., : int(shape[3])]
    else:
        x = x.ravel()[: int(np.prod(shape))]
    return x.reshape(shape).astype(dtype)


def softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max()
    exp = np.exp(shifted)
    return exp / exp.sum()


def report(name: str, output: np.ndarray) -> None:
    flat = output.astype(np.float32).ravel()
    probs = softmax(flat)
    top = np.argsort(-probs, kind="stable")[:3]
    print(name, output.shape, "top3", top.tolist(), [float(p) for p in probs[top]])
    print("  mean", float(flat.mean()), "std", float(flat.std()), "argmax", int(np.argmax(flat)))


def main(models: list[str]) -> int:
    for path in models:
        interpreter = Interpreter(model_path=path)
        interpreter.allocate_tensors()
        (detail,) = interpreter.get_input_details()
        for seed in (0, 1):
            interpreter.set_tensor(detail["index"], preprocess(frame(seed), detail["shape"], detail["dtype"]))
            interpreter.invoke()
            for out in interpreter.get_output_details():
                label = f"{path.rsplit('/', 1)[-1]}[{seed}] {out['name']}"
                report(label, interpreter.get_tensor(out["index"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
