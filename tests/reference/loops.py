"""Plain-loop references the vectorised primitives are checked against: slow, obvious, run on tiny inputs."""

from __future__ import annotations

import numpy as np


def loop_conv(x, w, b, stride, padding, dilation, groups):
    """Seven nested loops: y[n, co, oh, ow] = b[co] + Σ_ci,i,j x[n, g·CG + ci, oh·S − P + i·D, …] · w[co, ci, i, j]."""
    n, _, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    coutg = cout // groups
    y = np.zeros((n, cout, ho, wo))
    for ni in range(n):
        for co in range(cout):
            g = co // coutg
            for oh in range(ho):
                for ow in range(wo):
                    acc = 0.0 if b is None else b[co]
                    for ci in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                r, s = oh * sh - ph + i * dh, ow * sw - pw + j * dw
                                if 0 <= r < h and 0 <= s < wd:
                                    acc += x[ni, g * cg + ci, r, s] * w[co, ci, i, j]
                    y[ni, co, oh, ow] = acc
    return y


def loop_conv_transpose(x, w, b, stride, padding, output_padding, dilation, groups):
    """Scatter form: every input pixel adds x · w[ci, co] to the outputs its kernel taps reach (PyTorch)."""
    n, c, h, wd = x.shape
    _, coutg, kh, kw = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    cg = c // groups
    y = np.zeros((n, coutg * groups, ho, wo))
    for ni in range(n):
        for ci in range(c):
            g = ci // cg
            for ih in range(h):
                for iw in range(wd):
                    for co in range(coutg):
                        for i in range(kh):
                            for j in range(kw):
                                r, s = ih * sh - ph + i * dh, iw * sw - pw + j * dw
                                if 0 <= r < ho and 0 <= s < wo:
                                    y[ni, g * coutg + co, r, s] += x[ni, ci, ih, iw] * w[ci, co, i, j]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y
