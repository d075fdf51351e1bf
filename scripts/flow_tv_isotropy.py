"""Does a TV form prefer the pixel grid's axes? (issue 21: flow TV's woven sky)

    python scripts/flow_tv_isotropy.py            # isotropic and flow TV, about a minute

Minimises one TV form alone from white noise (256 px, Adam, 300 steps) and prints the share of
the result's oriented structure (structure tensor, as the readout's coherence reads it) whose
stroke direction lies within 22.5 degrees of the horizontal or the vertical: 0.5 is no
preference, 1 all along the axes.
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nst.algorithm import losses, metrics  # noqa: E402 (after the path: runs from a checkout)

SIDE, STEPS, SIGMA = 256, 300, 3.0


def axis_share(rgb: np.ndarray) -> float:
    """Share of the coherent structure oriented within 22.5 degrees of an axis."""
    jxx, jyy, jxy = metrics.structure_tensor(rgb)
    angle = np.degrees(0.5 * np.arctan2(2 * jxy, jxx - jyy)) % 180
    strength = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2)  # l1 - l2: oriented energy
    distance_to_axis = np.minimum(angle % 90, 90 - angle % 90)
    return float(strength[distance_to_axis < 22.5].sum() / strength.sum())


def minimised(roughness) -> np.ndarray:
    noise = np.random.default_rng(0).uniform(size=(1, SIDE, SIDE, 3)).astype(np.float32)
    image = tf.Variable(noise)
    optimizer = tf.keras.optimizers.Adam(0.01)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = 10 * roughness(image)
        optimizer.apply_gradients([(tape.gradient(loss, image), image)])

    for _ in range(STEPS):
        step()
    return np.clip(image.numpy()[0], 0, 1)


def main() -> int:
    forms = {
        "isotropic": losses.roughness,
        "flow": lambda image: losses.flow_roughness(image, SIGMA),
    }
    print("tv_form\taxis share\tcoherence")
    for name, roughness in forms.items():
        result = minimised(roughness)
        print(f"{name}\t{axis_share(result):.3f}\t{metrics.coherence(result):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
