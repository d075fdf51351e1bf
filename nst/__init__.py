"""nst: Gatys-style neural style transfer on a Keras VGG, driven by YAML experiment configs."""

__version__ = "0.1.0"
