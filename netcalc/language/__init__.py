"""The layer language: spec text → an expanded `Network`.

`yamlload` reads YAML with line numbers, `expr` evaluates attribute expressions, `compact` reads `conv3-64`,
`shape_names` resolves values that depend on a layer's input shape, and `spec` expands blocks and repeats.
"""
