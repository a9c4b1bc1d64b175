"""The ONNX bridge: import an ONNX model as a netcalc spec, export a spec as an ONNX model, and run it in
ONNX Runtime to check the NumPy reference pass's values.

- `importer`: one converter per ONNX operator, in a registry keyed by (domain, op type, since_version)
  (`registry.converter`), plus the patterns exporters leave behind (x·sigmoid(x), the channel-shuffle
  reshape–transpose–reshape, shape plumbing) folded into the layers a person would write.
- `exporter`: one function per netcalc kind, in a registry keyed by kind name.
- `runtime`: `netcalc verify --against onnxruntime`.
"""
