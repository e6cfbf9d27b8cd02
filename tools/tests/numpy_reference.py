"""An independent numpy transcription of the authors' TensorFlow FCRN.

Written from ``tensorflow/models/fcrn.py`` and ``network.py`` of
iro-cp/FCRN-DepthPrediction, deliberately sharing nothing with the package's
ONNX graph builder: NHWC float64 tensors, HWIO weights used as stored in the
.npy, explicit ``np.pad`` + windowed VALID convolution, TensorFlow's SAME
max-pool padding computed from its formula, and the interleave done as in
their ``interleave()`` (stack + reshape), not as a DepthToSpace.

``params`` is called as ``params(layer, param, shape)`` for every tensor the
network uses, in the order the authors' code creates them; it returns the
array. This lets the same transcription both generate a synthetic weight file
with the official names and shapes and run a forward pass from a weight dict.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

EPS = 1e-4


def conv_valid(x, w, stride):
    """VALID NHWC convolution of x [N,H,W,Ci] by w [kh,kw,Ci,Co]."""
    kh, kw, ci, co = w.shape
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))  # N,Ho,Wo,Ci,kh,kw
    win = win[:, ::stride, ::stride]
    n, ho, wo = win.shape[:3]
    cols = np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n * ho * wo, kh * kw * ci)
    return (cols @ w.reshape(kh * kw * ci, co)).reshape(n, ho, wo, co)


def tf_same_pool_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class ReferenceFCRN:
    def __init__(self, params, width_div=1, swap_bc=False):
        self.params = params
        self.div = width_div
        self.swap_bc = swap_bc

    def _c(self, c):
        return c // self.div

    def p(self, layer, name, shape):
        a = np.asarray(self.params(layer, name, tuple(shape)), dtype=np.float64)
        assert a.shape == tuple(shape), f"{layer}/{name}: {a.shape} != {tuple(shape)}"
        return a

    # network.py layers --------------------------------------------------
    def conv(self, x, k_h, k_w, c_o, s_h, s_w, name, relu=True, padding="SAME", biased=True):
        assert s_h == s_w
        c_i = x.shape[-1]
        if padding == "SAME":  # their 'SAME': explicit symmetric (k-1)//2
            ph, pw = (k_h - 1) // 2, (k_w - 1) // 2
            x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        kernel = self.p(name, "weights", (k_h, k_w, c_i, c_o))
        out = conv_valid(x, kernel, s_h)
        if biased:
            out = out + self.p(name, "biases", (c_o,))
        return np.maximum(out, 0) if relu else out

    def batch_normalization(self, x, name, relu=False):
        c = (x.shape[-1],)
        mean = self.p(name, "mean", c)
        var = self.p(name, "variance", c)
        scale = self.p(name, "scale", c)
        offset = self.p(name, "offset", c)
        out = (x - mean) / np.sqrt(var + EPS) * scale + offset
        return np.maximum(out, 0) if relu else out

    def max_pool(self, x, k_h, k_w, s_h, s_w):
        top, bottom = tf_same_pool_pads(x.shape[1], k_h, s_h)
        left, right = tf_same_pool_pads(x.shape[2], k_w, s_w)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
        win = sliding_window_view(x, (k_h, k_w), axis=(1, 2))[:, ::s_h, ::s_w]
        return win.max(axis=(4, 5))

    @staticmethod
    def interleave(tensors, axis):
        shape = list(tensors[0].shape)
        shape[axis] *= len(tensors)
        return np.stack(tensors, axis + 1).reshape(shape)

    def unpool_as_conv(self, size, x, id, relu=False):
        c = size[3]
        a = self.conv(x, 3, 3, c, 1, 1, f"layer{id}_ConvA", relu=False)
        b = self.conv(np.pad(x, ((0, 0), (1, 0), (1, 1), (0, 0))), 2, 3, c, 1, 1,
                      f"layer{id}_ConvB", padding="VALID", relu=False)
        cc = self.conv(np.pad(x, ((0, 0), (1, 1), (1, 0), (0, 0))), 3, 2, c, 1, 1,
                       f"layer{id}_ConvC", padding="VALID", relu=False)
        d = self.conv(np.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0))), 2, 2, c, 1, 1,
                      f"layer{id}_ConvD", padding="VALID", relu=False)
        if self.swap_bc:  # the mistake several public ports make
            b, cc = cc, b
        left = self.interleave([a, b], axis=1)
        right = self.interleave([cc, d], axis=1)
        y = self.interleave([left, right], axis=2)
        y = self.batch_normalization(y, f"layer{id}_BN")
        return np.maximum(y, 0) if relu else y

    def up_project(self, x, size, id):
        out = self.unpool_as_conv(size, x, f"{id}_br1", relu=True)
        out = self.conv(out, size[0], size[1], size[3], 1, 1, f"layer{id}_Conv", relu=False)
        branch1 = self.batch_normalization(out, f"layer{id}_BN")
        branch2 = self.unpool_as_conv(size, x, f"{id}_br2", relu=False)
        return np.maximum(branch1 + branch2, 0)

    # fcrn.py ------------------------------------------------------------
    def bottleneck(self, x, tag, mid, out, stride, project):
        c = self._c
        y = self.conv(x, 1, 1, c(mid), stride, stride, f"res{tag}_branch2a", biased=False, relu=False)
        y = self.batch_normalization(y, f"bn{tag}_branch2a", relu=True)
        y = self.conv(y, 3, 3, c(mid), 1, 1, f"res{tag}_branch2b", biased=False, relu=False)
        y = self.batch_normalization(y, f"bn{tag}_branch2b", relu=True)
        y = self.conv(y, 1, 1, c(out), 1, 1, f"res{tag}_branch2c", biased=False, relu=False)
        y = self.batch_normalization(y, f"bn{tag}_branch2c")
        if project:
            s = self.conv(x, 1, 1, c(out), stride, stride, f"res{tag}_branch1", biased=False, relu=False)
            s = self.batch_normalization(s, f"bn{tag}_branch1")
        else:
            s = x
        return np.maximum(s + y, 0)

    def forward(self, image_nhwc):
        c = self._c
        x = np.asarray(image_nhwc, np.float64)
        x = self.conv(x, 7, 7, c(64), 2, 2, "conv1", relu=False)
        x = self.batch_normalization(x, "bn_conv1", relu=True)
        x = self.max_pool(x, 3, 3, 2, 2)
        for stage, letters, mid, out, stride in ((2, "abc", 64, 256, 1), (3, "abcd", 128, 512, 2),
                                                 (4, "abcdef", 256, 1024, 2), (5, "abc", 512, 2048, 2)):
            for i, letter in enumerate(letters):
                x = self.bottleneck(x, f"{stage}{letter}", mid, out, stride if i == 0 else 1, i == 0)
        x = self.conv(x, 1, 1, c(1024), 1, 1, "layer1", biased=True, relu=False)
        x = self.batch_normalization(x, "layer1_BN", relu=False)
        for ci, co, id in ((1024, 512, "2x"), (512, 256, "4x"), (256, 128, "8x"), (128, 64, "16x")):
            x = self.up_project(x, [3, 3, c(ci), c(co)], id)
        return self.conv(x, 3, 3, 1, 1, 1, "ConvPred")  # default relu=True


def synthetic_weights(seed, width_div=1):
    """A weight dict with the official names/shapes and random values.

    Built by running the transcription on a tiny image (parameter shapes do
    not depend on the image size) and drawing each tensor when first asked.
    """
    rng = np.random.default_rng(seed)
    out = {}

    def draw(layer, name, shape):
        if name not in out.setdefault(layer, {}):
            if name == "variance":
                a = rng.uniform(0.5, 1.5, shape)
            elif name == "scale":
                a = rng.uniform(0.5, 1.5, shape)
            else:
                a = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)
            out[layer][name] = np.asarray(a, dtype=np.float32)
        return out[layer][name]

    ReferenceFCRN(draw, width_div).forward(np.zeros((1, 32, 32, 3)))
    return out


def forward(weights, image_nchw, width_div=1, swap_bc=False):
    """Run the transcription; takes and returns NCHW like the ONNX model."""

    def get(layer, name, shape):
        return weights[layer][name]

    y = ReferenceFCRN(get, width_div, swap_bc).forward(np.asarray(image_nchw).transpose(0, 2, 3, 1))
    return y.transpose(0, 3, 1, 2)
