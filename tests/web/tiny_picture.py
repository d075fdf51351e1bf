"""The tiny picture the page's tests make: the /paint endpoint's arguments, in the page's order."""

TINY = 32  # px: every picture the page tests make is this small, on random weights


def paint_arguments(photo="tubingen.jpg", photo_upload=None, quality="preview", **changes):
    """The /paint endpoint's arguments, in the page's order: a tiny picture on random weights."""
    arguments = {
        "photo": photo,
        "photo_upload": photo_upload,
        "painting_1": "starry_night.jpg",
        "painting_1_upload": None,
        "painting_1_weight": 1.0,
        "painting_2": "(none)",
        "painting_2_upload": None,
        "painting_2_weight": 0.5,
        "painting_3": "(none)",
        "painting_3_upload": None,
        "painting_3_weight": 0.5,
        "size": TINY,
        "style_strength": 5.0,
        "brush_size": 1.0,
        "smoothness": 0.01,
        "colours": "painting's colours",
        "quality": quality,
        "network": "vgg16",
        "weights": "none",
    }
    return arguments | changes
