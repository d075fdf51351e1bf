"""nst: Gatys-style neural style transfer on a Keras VGG, driven by YAML experiment configs.

    import nst
    result = nst.stylize("assets/tubingen.jpg", "assets/starry_night.jpg", image={"size": 256})

The API (nst.api) is the command line's, as calls: stylize, run, resume, sweep, score,
load_config; train, apply and export for feed-forward networks. Importing nst is quick;
TensorFlow loads on the first call that needs it.
"""

__version__ = "0.1.0"

from nst.api import (  # noqa: E402 (after the version, which setup.cfg reads)
    Interrupted,
    Result,
    Step,
    apply,
    export,
    last_result,
    load_config,
    resume,
    run,
    score,
    stylize,
    sweep,
    train,
)
from nst.errors import UserError  # noqa: E402

__all__ = [
    "Interrupted",
    "Result",
    "Step",
    "UserError",
    "apply",
    "export",
    "last_result",
    "load_config",
    "resume",
    "run",
    "score",
    "stylize",
    "sweep",
    "train",
]
