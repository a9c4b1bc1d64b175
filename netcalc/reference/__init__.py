"""NumPy reference engine: im2col convolution, pooling and normalisation primitives in the cs231n manner
(`forward(...) -> (y, cache)`, `backward(dy, cache) -> (dx, dparams...)`), NCHW, every multiply-accumulate
counted through `netcalc.reference.gemm`."""
