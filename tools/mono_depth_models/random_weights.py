"""Seeded random FCRN weights in the official ``{layer: {param: array}}`` layout.

Not a trained model: these exist so that benchmarks pay the real cost and tests
run the real topology. Convs get He-normal weights; each batch-norm's running
mean/variance are set from a per-channel estimate of its input statistics
(propagating mean and variance of iid activations through the network, for a
uniform 0-255 input), so activations stay near unit scale instead of growing
through the network. The estimate ignores spatial correlation, so real
activations drift from unit scale, but they stay finite; the output depth of a
random model is not meaningful (``ConvPred`` is scaled so that it would be about
N(3 m, 1.5 m) under the estimate).
"""

from __future__ import annotations

import math

import numpy as np

from . import architecture as arch

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_erf = np.vectorize(math.erf)


class _Stats:
    """Per-channel mean and variance of an activation tensor."""

    def __init__(self, mean, var):
        self.mean = np.asarray(mean, np.float64)
        self.var = np.asarray(var, np.float64)

    def scalar(self):
        m = float(self.mean.mean())
        second = float((self.var + self.mean**2).mean())
        return m, max(second - m * m, 1e-12)

    def relu(self):
        mu, sd = self.mean, np.sqrt(self.var)
        a = mu / sd
        cdf = 0.5 * (1.0 + _erf(a / _SQRT2))
        pdf = np.exp(-0.5 * a * a) / _SQRT2PI
        m = mu * cdf + sd * pdf
        second = (mu * mu + sd * sd) * cdf + mu * sd * pdf
        return _Stats(m, np.maximum(second - m * m, 1e-12))

    def __add__(self, other):
        return _Stats(self.mean + other.mean, self.var + other.var)


class _Init:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.out: dict = {}

    def conv_raw(self, spec: arch.ConvSpec, x: _Stats) -> _Stats:
        """Draw conv weights; return stats of its output (before any BN)."""
        fan_in = spec.kh * spec.kw * spec.cin
        w = self.rng.standard_normal(spec.weight_shape, dtype=np.float32)
        w *= np.float32(math.sqrt(2.0 / fan_in))
        layer = {"weights": w}
        m, v = x.scalar()
        wsum = w.sum(axis=(0, 1, 2), dtype=np.float64)
        wsq = np.square(w, dtype=np.float64).sum(axis=(0, 1, 2))
        mean, var = m * wsum, v * wsq
        if spec.bias:
            b = (0.1 * self.rng.standard_normal(spec.cout)).astype(np.float32)
            layer["biases"] = b
            mean = mean + b
        self.out[spec.name] = layer
        return _Stats(mean, var)

    def bn(self, name: str, x: _Stats, residual_end: bool = False) -> _Stats:
        c = x.mean.shape[0]
        rng = self.rng
        lo, hi = (0.2, 0.5) if residual_end else (0.8, 1.2)
        scale = rng.uniform(lo, hi, c)
        offset = 0.1 * rng.standard_normal(c)
        # running stats close to (not exactly) the estimated input stats
        mean = x.mean + 0.05 * np.sqrt(x.var) * rng.standard_normal(c)
        var = x.var * rng.uniform(0.9, 1.1, c)
        self.out[name] = {
            "scale": scale.astype(np.float32),
            "offset": offset.astype(np.float32),
            "mean": mean.astype(np.float32),
            "variance": var.astype(np.float32),
        }
        k = scale / np.sqrt(var + arch.BN_EPSILON)
        return _Stats((x.mean - mean) * k + offset, x.var * k * k)

    def conv_bn(self, spec, bn, x, relu=False, residual_end=False):
        y = self.bn(bn, self.conv_raw(spec, x), residual_end)
        return y.relu() if relu else y

    def unpool(self, u: arch.Unpool, x: _Stats) -> _Stats:
        outs = [self.conv_raw(spec, x) for spec in u.convs]
        mean = sum(o.mean for o in outs) / 4
        second = sum(o.var + o.mean**2 for o in outs) / 4
        y = self.bn(u.bn, _Stats(mean, second - mean**2))
        return y.relu() if u.relu else y

    def prediction(self, spec: arch.ConvSpec, x: _Stats) -> None:
        m, v = x.scalar()
        w = self.rng.standard_normal(spec.weight_shape).astype(np.float64)
        w *= 1.5 / math.sqrt(v * float(np.square(w).sum()))
        b = 3.0 - m * float(w.sum())
        self.out[spec.name] = {"weights": w.astype(np.float32), "biases": np.array([b], np.float32)}


def random_fcrn_weights(seed: int, width_div: int = 1) -> dict:
    """A full weight dict for ``architecture.blocks(width_div)``."""
    init = _Init(np.random.default_rng(seed))
    x = _Stats([127.5] * 3, [255.0**2 / 12] * 3)  # uniform 0-255 pixels
    for b in arch.blocks(width_div):
        if isinstance(b, arch.Stem):
            x = init.conv_bn(b.conv, b.bn, x, relu=True)
        elif isinstance(b, arch.Bottleneck):
            c2a, c2b, c2c = b.branch2
            y = init.conv_bn(c2a, b.bn_name(c2a), x, relu=True)
            y = init.conv_bn(c2b, b.bn_name(c2b), y, relu=True)
            y = init.conv_bn(c2c, b.bn_name(c2c), y, residual_end=True)
            s = x if b.branch1 is None else init.conv_bn(b.branch1, b.bn_name(b.branch1), x)
            x = (s + y).relu()
        elif isinstance(b, arch.Layer1):
            x = init.conv_bn(b.conv, b.bn, x)
        elif isinstance(b, arch.UpProjection):
            y1 = init.conv_bn(b.conv, b.bn, init.unpool(b.branch1, x))
            y2 = init.unpool(b.branch2, x)
            x = (y1 + y2).relu()
        elif isinstance(b, arch.Prediction):
            init.prediction(b.conv, x)
    return init.out
