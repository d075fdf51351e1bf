"""The loss and its gradient evaluated tile by tile, exactly: print sizes in bounded memory.

As Galerne et al. ("Scaling Painting Style Transfer", 2023) observe, every network term of
nst.algorithm.losses is a sum over a layer's positions (content errors) or a function of such sums
(the
style statistics: means and second moments of the features). So an image too large for one pass
through the network is evaluated in two passes over tiles:

    pass 1  each tile runs forward and adds its positions to the sums; the loss follows from
            the totals, as nst.algorithm.losses computes it from the whole image's features.
    pass 2  (for the gradient) each tile runs forward and backward once more, with its positions
            weighted by the loss's gradient with respect to those sums (taken once, from the
            totals); the tiles' gradients, added into the image, are the untiled gradient.

Tiles overlap by the deepest layer's receptive field and start on its pooling grid, so a tile's
features equal the whole image's everywhere but within that margin of a cut edge; every position
of every layer belongs to exactly one tile, whose interior holds it, and counts only there: no
seams, by construction. The pixel terms (total variation, palette) read the whole image at once:
they cost a few image-sized arrays, not a network's activations.

`TiledLoss` is called like nst.algorithm.losses.StyleTransferLoss, so the optimisers cannot tell
the two
apart: its gradient is supplied through tf.custom_gradient.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from nst import networks
from nst.algorithm import losses, palette
from nst.algorithm.style_masks import position_weight_map, style_groups

# A weight total below this counts as no positions (a mask that misses a tile).
_TINY = 1e-30
# TensorFlow runs up to 10 iterations of a while loop at once where they don't depend on each
# other, as the tiles' forward passes don't: that would hold 10 tiles' activations.
_ONE_TILE_AT_A_TIME = 1


# --- Where the tiles lie -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Axis:
    """Tiles along one side of the image: all `tile` px long, starting at `offsets`; tile k
    answers for the pixels [owned[k][0], owned[k][1])."""

    length: int
    tile: int
    offsets: tuple[int, ...]
    owned: tuple[tuple[int, int], ...]


@dataclasses.dataclass(frozen=True)
class TileGrid:
    rows: Axis
    cols: Axis

    @property
    def count(self) -> int:
        return len(self.rows.offsets) * len(self.cols.offsets)

    @property
    def tiled(self) -> bool:
        return self.count > 1

    def describe(self) -> str:
        """'12 tiles of 1040x1024 px'."""
        return f"{self.count} tiles of {self.cols.tile}x{self.rows.tile} px"

    def tiles(self) -> list[tuple[int, int, int, int, int, int]]:
        """Per tile, row-major: (row offset, col offset, owned rows start/end, cols start/end)."""
        return [
            (row, col, *row_owned, *col_owned)
            for row, row_owned in zip(self.rows.offsets, self.rows.owned, strict=True)
            for col, col_owned in zip(self.cols.offsets, self.cols.owned, strict=True)
        ]


def plan_grid(height: int, width: int, tile: int, network: str, layers: Sequence[str]) -> TileGrid:
    """Tiles of at most `tile` px a side covering a (height, width) image (one tile if it fits)."""
    margin, grid = networks.tile_context(network, layers)
    if tile < max(height, width) and tile < 2 * margin + grid:
        raise ValueError(f"tiles of {tile} px are below the minimum {2 * margin + grid} px")
    return TileGrid(_plan_axis(height, tile, margin, grid), _plan_axis(width, tile, margin, grid))


def _plan_axis(length: int, tile: int, margin: int, grid: int) -> Axis:
    if tile >= length:
        return Axis(length, length, (0,), ((0, length),))
    # Every tile has the same side (one traced network), and the last one ends at the image's
    # edge on the grid: so its side is congruent to the length modulo the grid.
    largest = tile - (tile - length) % grid
    if largest < 2 * margin + grid:  # the congruence took it below the minimum: a grid step up
        largest += grid
    if largest >= length:
        return Axis(length, length, (0,), ((0, length),))
    count = len(_cover(length, largest, margin, grid)[0])
    # The smallest side that still covers the image with that many tiles: the least overlap.
    # n tiles own at most n * side - 2 * (n - 1) * margin pixels.
    side = max(-(-(length + 2 * (count - 1) * margin) // count), 2 * margin + grid)
    side += (length - side) % grid
    while len(_cover(length, side, margin, grid)[0]) > count:
        side += grid
    offsets, owned = _cover(length, side, margin, grid)
    return Axis(length, side, offsets, owned)


def _cover(length: int, side: int, margin: int, grid: int) -> tuple[tuple, tuple]:
    """Tiles of `side` px from the start, each owning what its margins leave: (offsets, owned).
    A side of at least 2 * margin + grid owns a grid step or more per tile."""
    offsets, owned, start = [], [], 0
    while start < length:
        offset = 0 if start == 0 else start - margin
        if offset + side >= length:
            offset, end = length - side, length
        else:
            end = (offset + side - margin) // grid * grid
        if end <= start:
            raise ValueError(f"tiles of {side} px own nothing past a {margin} px margin")
        offsets.append(offset)
        owned.append((start, end))
        start = end
    return tuple(offsets), tuple(owned)


def _layer_table(grid: TileGrid, stride: int) -> np.ndarray:
    """Per tile, in a layer of this stride's positions: offsets and owned ranges relative to
    the tile's own feature map: (row offset, col offset, row start, row end, col start, col
    end), as int32 (count, 6)."""
    rows, cols = grid.rows.length, grid.cols.length
    table = []
    for row, col, row_start, row_end, col_start, col_end in grid.tiles():
        row_end_l = rows // stride if row_end == rows else row_end // stride
        col_end_l = cols // stride if col_end == cols else col_end // stride
        row_l, col_l = row // stride, col // stride
        table.append(
            (
                row_l,
                col_l,
                row_start // stride - row_l,
                row_end_l - row_l,
                col_start // stride - col_l,
                col_end_l - col_l,
            )
        )
    return np.array(table, np.int32)


def _owned_mask(params: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """(height, width) float mask of a tile's own positions in its feature map."""
    rows = tf.range(height)
    cols = tf.range(width)
    in_rows = (rows >= params[2]) & (rows < params[3])
    in_cols = (cols >= params[4]) & (cols < params[5])
    return tf.cast(in_rows[:, None] & in_cols[None, :], tf.float32)


# --- Moments accumulated over tiles --------------------------------------------------------------
# Per style statistic (nst.algorithm.losses' `moments`): a tile's contribution, how two combine,
# and the
# statistics they give. Centred moments combine with Chan et al.'s pairwise update, which stays
# accurate where a running sum of squares would cancel.


def _tile_moments(kind: str, flat: tf.Tensor, weights: tf.Tensor) -> tuple:
    """(N, C) features with (N,) weights -> the tile's mergeable moments."""
    if kind == "uncentred":
        return (losses._weighted_outer_product(flat, weights),)
    total = tf.reduce_sum(weights)
    mean = tf.tensordot(weights, flat, axes=1) / tf.maximum(total, _TINY)
    centred = flat - mean
    if kind == "variance":
        second = tf.tensordot(weights, tf.square(centred), axes=1)
    else:
        second = losses._weighted_outer_product(centred, weights)
    return (total, mean, second)


def _empty_moments(kind: str, channels: int) -> tuple:
    square = tf.zeros([channels, channels])
    if kind == "uncentred":
        return (square,)
    second = tf.zeros([channels]) if kind == "variance" else square
    return (tf.constant(0.0), tf.zeros([channels]), second)


def _merge_moments(kind: str, a: tuple, b: tuple) -> tuple:
    if kind == "uncentred":
        return (a[0] + b[0],)
    (total_a, mean_a, second_a), (total_b, mean_b, second_b) = a, b
    total = total_a + total_b
    share_b = total_b / tf.maximum(total, _TINY)
    delta = mean_b - mean_a
    spread = delta * delta if kind == "variance" else delta[:, None] * delta[None, :]
    return (total, mean_a + delta * share_b, second_a + second_b + spread * total_a * share_b)


def _statistics(kind: str, moments: tuple) -> tuple:
    """The statistics nst.algorithm.losses' classes take, from the accumulated moments."""
    if kind == "uncentred":
        return moments
    total, mean, second = moments
    return (mean, second / tf.maximum(total, _TINY))


def _moments_surrogate(kind, flat, weights, moments, gradients) -> tf.Tensor:
    """A scalar whose gradient with respect to this tile's features is the loss's, given the
    whole image's accumulated moments and the loss's gradients with respect to them.

    The centred moments are taken about the whole image's mean, held constant: their gradient
    through the mean is a sum of centred features, zero.
    """
    if kind == "uncentred":
        return tf.reduce_sum(gradients[0] * losses._weighted_outer_product(flat, weights))
    total, mean, _ = moments
    _, d_mean, d_second = gradients  # the weight total is a constant: masks, not features
    centred = flat - mean
    if kind == "variance":
        second = tf.tensordot(weights, tf.square(centred), axes=1)
    else:
        second = losses._weighted_outer_product(centred, weights)
    first = tf.tensordot(weights, flat, axes=1) / tf.maximum(total, _TINY)
    return tf.reduce_sum(d_mean * first) + tf.reduce_sum(d_second * second)


# --- The loss ------------------------------------------------------------------------------------


class TiledLoss:
    """nst.algorithm.losses.StyleTransferLoss's loss and gradient, evaluated over `tile`-px tiles.

    Takes StyleTransferLoss's arguments as NumPy arrays plus the network's name, the tile side
    and, optionally, `on_tile(done, count)`: called as tiles finish during an evaluation (pass 1
    counts 1..n, pass 2 n+1..2n; a value-only evaluation stops at n), for a progress bar.
    """

    def __init__(
        self,
        feature_model,
        network: str,
        tile: int,
        content_image: np.ndarray,
        style_images: Sequence[np.ndarray],
        style_blend: Sequence[float],
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        style_loss: str = "gram",
        style_masks: Sequence[np.ndarray | None] | None = None,
        palette_weight: float = 0.0,
        on_tile: Callable[[int, int], None] | None = None,
        tv_form: str = "isotropic",
    ):
        self._roughness = losses.tv_roughness(tv_form, max(content_image.shape[:2]), content_image)
        if style_masks is None:
            style_masks = [None] * len(style_images)
        if losses._STYLE_STATISTICS[style_loss].moments is None:
            raise ValueError(f"the {style_loss} style loss cannot be evaluated tile by tile")
        self._model = feature_model
        self._network = network
        self._tile = tile
        self._content_layers = losses._normalised(content_layers)
        self._style_layers = losses._normalised(style_layers)
        self._weights = (content_weight, style_weight, tv_weight, palette_weight)
        self._image_size = tuple(content_image.shape[:2])
        self.grid = self._grid(*self._image_size)
        self._tables = {
            stride: tf.constant(_layer_table(self.grid, stride))
            for stride in {self._stride(layer) for layer in self.layers}
        }
        self._pixel_table = tf.constant(np.array(self.grid.tiles(), np.int32))
        self._on_tile = on_tile
        self._forward = tf.function(lambda tile: feature_model(tile, training=False))

        content_maps = self._feature_maps(content_image, list(self._content_layers))
        self._content_targets = {layer: tf.constant(m) for layer, m in content_maps.items()}
        self._content_scales = {
            layer: float(np.mean(np.square(m, dtype=np.float64)))
            for layer, m in content_maps.items()
        }
        del content_maps

        statistic = losses._STYLE_STATISTICS[style_loss]
        self._kind = statistic.moments
        style_statistics = [self._image_statistics(image) for image in style_images]
        blend_total = sum(style_blend)
        groups = style_groups(style_masks)
        # Per layer: (share of the blend, the statistic with its target, the layer's position
        # weights over the whole image or None).
        self._style_terms = {layer: [] for layer in self._style_layers}
        for indices, mask in groups:
            group_blend = sum(style_blend[index] for index in indices)
            for layer, terms in self._style_terms.items():
                targets = [
                    (style_statistics[index][layer], style_blend[index] / group_blend)
                    for index in indices
                ]
                weight_map = None
                if mask is not None:
                    shape = self._layer_shape(layer, *self._image_size)
                    weight_map = position_weight_map(tf.constant(mask, tf.float32), shape)
                terms.append((group_blend / blend_total, statistic(targets), weight_map))

        content = tf.constant(content_image[None])
        self._tv_scale = tf.maximum(self._roughness(content), losses._MIN_CONTENT_ROUGHNESS)
        self._palette = None
        if palette_weight > 0:
            self._palette = palette.PaletteLoss(
                list(zip(style_images, style_blend, strict=True)), style_masks, self._image_size
            )
        # Where pass 2 adds up the tiles' gradients: in place, one image's worth of memory.
        self._gradient_sum = tf.Variable(
            tf.zeros([1, *self._image_size, 3]), trainable=False, name="tiled_gradient"
        )
        self._term_names = [
            *(f"content/{layer}" for layer in self._content_layers),
            *(f"style/{layer}" for layer in self._style_layers),
        ]

    @property
    def layers(self) -> list[str]:
        """Every layer the loss reads, content first."""
        return [*self._content_layers, *self._style_layers]

    def _grid(self, height: int, width: int) -> TileGrid:
        return plan_grid(height, width, self._tile, self._network, self.layers)

    def _stride(self, layer: str) -> int:
        return networks.stride(self._network, layer)

    def _layer_shape(self, layer: str, height: int, width: int) -> tuple[int, int]:
        stride = self._stride(layer)
        return height // stride, width // stride

    # Targets, once, tile by tile in Python (eager): the content's features, the styles' moments.

    def _tile_features(self, image: np.ndarray, grid: TileGrid, layers: Sequence[str]):
        """Yield (tile params per stride, {layer: features (H_l, W_l, C)}) for each tile."""
        tables = {self._stride(layer): _layer_table(grid, self._stride(layer)) for layer in layers}
        for index, (row, col, *_) in enumerate(grid.tiles()):
            tile = image[None, row : row + grid.rows.tile, col : col + grid.cols.tile]
            features = self._forward(tf.constant(tile))
            params = {stride: table[index] for stride, table in tables.items()}
            yield params, {layer: features[layer][0] for layer in layers}

    def _feature_maps(self, image: np.ndarray, layers: Sequence[str]) -> dict[str, np.ndarray]:
        """Whole-image feature maps of `layers`, assembled from the tiles' own positions."""
        height, width, _ = image.shape
        grid = self._grid(height, width)
        maps = {}
        for params, features in self._tile_features(image, grid, layers):
            for layer, tile_features in features.items():
                if layer not in maps:
                    shape = self._layer_shape(layer, height, width)
                    maps[layer] = np.zeros((*shape, tile_features.shape[-1]), np.float32)
                row, col, row_start, row_end, col_start, col_end = params[self._stride(layer)]
                own = tile_features.numpy()[row_start:row_end, col_start:col_end]
                maps[layer][row + row_start : row + row_end, col + col_start : col + col_end] = own
        return {layer: m[None] for layer, m in maps.items()}

    def _image_statistics(self, image: np.ndarray) -> dict[str, tuple]:
        """{style layer: the statistics of the whole image's features}, every position alike."""
        height, width, _ = image.shape
        grid = self._grid(height, width)
        layers = list(self._style_layers)
        moments = {}
        for params, features in self._tile_features(image, grid, layers):
            for layer, tile_features in features.items():
                positions = np.prod(self._layer_shape(layer, height, width))
                owned = _owned_mask(params[self._stride(layer)], *tile_features.shape[:2])
                flat = tf.reshape(tile_features, [-1, tile_features.shape[-1]])
                weights = tf.reshape(owned, [-1]) / float(positions)
                tile_moments = _tile_moments(self._kind, flat, weights)
                if layer not in moments:
                    moments[layer] = _empty_moments(self._kind, tile_features.shape[-1])
                moments[layer] = _merge_moments(self._kind, moments[layer], tile_moments)
        return {layer: _statistics(self._kind, m) for layer, m in moments.items()}

    # One evaluation: pass 1 (value), pass 2 (gradient), inside the optimiser's tf.function.

    def __call__(self, image: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        if not tf.TensorShape(image.shape[1:3]).is_compatible_with(self._image_size):
            raise ValueError(
                f"this loss is set up for {self._image_size} images, got {tuple(image.shape[1:3])}"
            )
        total, network_terms, pixel_terms = self._evaluate(image)
        terms = dict(zip(self._term_names, tf.unstack(network_terms), strict=True))
        terms["content"] = tf.add_n([terms[f"content/{layer}"] for layer in self._content_layers])
        terms["style"] = tf.add_n([terms[f"style/{layer}"] for layer in self._style_layers])
        terms["tv"], terms["palette"] = tf.unstack(pixel_terms)
        return total, terms

    def _evaluate(self, image):
        @tf.custom_gradient
        def evaluate(image):
            sums = self._pass_one(image)
            network_terms = self._network_terms(sums)
            pixel_terms = self._pixel_terms(image)
            total = tf.reduce_sum(network_terms) + tf.reduce_sum(pixel_terms)

            def gradient(d_total, d_network_terms, d_pixel_terms, variables=None):
                # Only the total is differentiated (the terms are for logging).
                flat_sums = tf.nest.flatten(sums)
                with tf.GradientTape() as tape:
                    tape.watch(flat_sums)
                    network_total = tf.reduce_sum(
                        self._network_terms(tf.nest.pack_sequence_as(sums, flat_sums))
                    )
                sum_gradients = tf.nest.pack_sequence_as(
                    sums, tape.gradient(network_total, flat_sums)
                )
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    pixel_total = tf.reduce_sum(self._pixel_terms(image))
                pixel_gradient = tape.gradient(pixel_total, image)
                network_gradient = self._pass_two(image, sums, sum_gradients)
                image_gradient = d_total * (network_gradient + pixel_gradient)
                return image_gradient, [None] * len(variables or [])

            return (total, network_terms, pixel_terms), gradient

        return evaluate(image)

    def _pass_one(self, image) -> dict:
        """{"content": {layer: sum of squared errors}, "style": {layer: [moments per term]}}."""
        initial = {
            "content": {layer: tf.constant(0.0) for layer in self._content_layers},
            "style": {
                layer: [_empty_moments(self._kind, self._channels(layer)) for _ in terms]
                for layer, terms in self._style_terms.items()
            },
        }

        def body(index, sums):
            features, params = self._tile_forward(image, index)
            new = {"content": {}, "style": {}}
            for layer in self._content_layers:
                error = self._content_error(features[layer], params[layer], layer)
                new["content"][layer] = sums["content"][layer] + error
            for layer, terms in self._style_terms.items():
                flat, owned = _flat_owned(features[layer], params[layer])
                new["style"][layer] = [
                    _merge_moments(
                        self._kind,
                        moments,
                        _tile_moments(
                            self._kind, flat, self._weights_of(owned, term, params[layer], layer)
                        ),
                    )
                    for moments, term in zip(sums["style"][layer], terms, strict=True)
                ]
            return self._tile_done(index, 0), new

        count = self.grid.count
        _, sums = tf.while_loop(
            lambda index, _: index < count,
            body,
            (tf.constant(0), initial),
            parallel_iterations=_ONE_TILE_AT_A_TIME,
        )
        return sums

    def _network_terms(self, sums) -> tf.Tensor:
        """The weighted content and style terms, in _term_names order, from the totals."""
        content_weight, style_weight, _, _ = self._weights
        height, width = self._image_size
        terms = []
        for layer, layer_weight in self._content_layers.items():
            values = np.prod(self._layer_shape(layer, height, width)) * self._channels(layer)
            error = sums["content"][layer] / float(values) / self._content_scales[layer]
            terms.append(content_weight * layer_weight * error)
        for layer, layer_weight in self._style_layers.items():
            distance = tf.add_n(
                [
                    share * statistic.distance(_statistics(self._kind, moments))
                    for moments, (share, statistic, _) in zip(
                        sums["style"][layer], self._style_terms[layer], strict=True
                    )
                ]
            )
            terms.append(style_weight * layer_weight * distance)
        return tf.stack(terms)

    def _pixel_terms(self, image) -> tf.Tensor:
        """The weighted TV and palette terms, from the whole image."""
        _, _, tv_weight, palette_weight = self._weights
        tv = tv_weight * self._roughness(image) / self._tv_scale
        colours = palette_weight * self._palette(image) if self._palette else tf.constant(0.0)
        return tf.stack([tv, colours])

    def _pass_two(self, image, sums, sum_gradients) -> tf.Tensor:
        """The network terms' gradient with respect to the image, tile by tile."""
        rows, cols = self.grid.rows.tile, self.grid.cols.tile

        def body(index):
            tile, row, col = self._tile_of(image, index)
            with tf.GradientTape() as tape:
                tape.watch(tile)
                features, params = self._tile_forward(tile, index, cut=False)
                surrogate = 0.0
                for layer in self._content_layers:
                    error = self._content_error(features[layer], params[layer], layer)
                    surrogate += sum_gradients["content"][layer] * error
                for layer, terms in self._style_terms.items():
                    flat, owned = _flat_owned(features[layer], params[layer])
                    for moments, gradients, term in zip(
                        sums["style"][layer], sum_gradients["style"][layer], terms, strict=True
                    ):
                        weights = self._weights_of(owned, term, params[layer], layer)
                        surrogate += _moments_surrogate(
                            self._kind, flat, weights, moments, gradients
                        )
            tile_gradient = tape.gradient(surrogate, tile)
            window = self._gradient_sum[:, row : row + rows, col : col + cols, :]
            added = self._gradient_sum[:, row : row + rows, col : col + cols, :].assign(
                window + tile_gradient
            )
            with tf.control_dependencies([added]):
                return (self._tile_done(index, self.grid.count),)

        reset = self._gradient_sum.assign(tf.zeros_like(self._gradient_sum))
        with tf.control_dependencies([reset]):
            start = tf.constant(0)
        (done,) = tf.while_loop(
            lambda index: index < self.grid.count,
            body,
            (start,),
            parallel_iterations=_ONE_TILE_AT_A_TIME,
        )
        with tf.control_dependencies([done]):
            return self._gradient_sum.read_value()

    def _tile_of(self, image, index):
        """Tile `index` of the (1, H, W, 3) image, with its row and column offsets."""
        row, col = self._pixel_table[index, 0], self._pixel_table[index, 1]
        size = [1, self.grid.rows.tile, self.grid.cols.tile, 3]
        return tf.slice(image, [0, row, col, 0], size), row, col

    def _tile_forward(self, image, index, cut: bool = True):
        """The features of tile `index` (of the image, or the tile itself with cut=False) and
        its per-layer parameters (nst.algorithm.tiling._layer_table's row)."""
        tile = self._tile_of(image, index)[0] if cut else image
        features = self._model(tile, training=False)
        params = {
            layer: tf.gather(self._tables[self._stride(layer)], index) for layer in self.layers
        }
        return features, params

    def _content_error(self, features, params, layer: str) -> tf.Tensor:
        """Sum of squared errors against the content's features over the tile's own positions."""
        height, width, channels = features.shape[1:]
        target = tf.slice(
            self._content_targets[layer], [0, params[0], params[1], 0], [1, height, width, channels]
        )
        owned = _owned_mask(params, height, width)
        return tf.reduce_sum(owned[None, :, :, None] * tf.square(features - target))

    def _weights_of(self, owned, term, params, layer: str) -> tf.Tensor:
        """(N,) weights of a tile's positions in one style term: its own positions, at the
        term's mask weights or evenly over the whole image's positions."""
        _, _, weight_map = term
        height, width = owned.shape
        if weight_map is None:
            positions = float(np.prod(self._layer_shape(layer, *self._image_size)))
            return tf.reshape(owned, [-1]) / positions
        tile_map = tf.slice(weight_map, [params[0], params[1]], [height, width])
        return tf.reshape(owned * tile_map, [-1])

    def _tile_done(self, index, before: int) -> tf.Tensor:
        """index + 1, once `on_tile` has heard of it."""
        following = index + 1
        if self._on_tile is None:
            return following
        count = 2 * self.grid.count

        def report(done):
            self._on_tile(int(done), count)
            return done

        reported = tf.py_function(report, [following + before], tf.int32)
        return tf.ensure_shape(reported, []) - before

    def _channels(self, layer: str) -> int:
        return networks.channels(layer)


def _flat_owned(features, params) -> tuple[tf.Tensor, tf.Tensor]:
    """(1, H, W, C) features -> (H * W, C), and the (H, W) mask of the tile's own positions."""
    height, width, channels = features.shape[1:]
    return tf.reshape(features, [-1, channels]), _owned_mask(params, height, width)
