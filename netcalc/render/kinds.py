"""`netcalc kinds`: the layer kinds, their attributes and defaults, straight from the registry."""

from __future__ import annotations

from netcalc.errors import SpecError, did_you_mean
from netcalc.kinds import REGISTRY


def _default_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f"default {str(value).lower()}"
    return f"default {value}"


def list_kinds() -> str:
    width = max(map(len, REGISTRY))
    return "".join(f"{name.ljust(width)}  {kind.summary}\n" for name, kind in REGISTRY.items())


# Spec words that are not kinds but expand to kinds: `netcalc kinds WORD` explains them too.
SUGAR = {
    "channel_split": (
        "channel_split: language sugar, not a kind of its own: "
        "{kind: channel_split, name: s, sizes: [a, b, …]} or {…, parts: n} becomes channel_slice layers s.0, s.1, …\n"
        "  each part is referenced by name (`from: s.1`); `parts: n` splits as torch.chunk does (⌈C/n⌉ channels a "
        "part, the last may be smaller)\n"
        "  see `netcalc kinds channel_slice` and docs/language.md\n"
    ),
}


def describe_kind(name: str) -> str:
    if name in SUGAR:
        return SUGAR[name]
    kind = REGISTRY.get(name)
    if kind is None:
        raise SpecError(f"unknown kind {name!r}{did_you_mean(name, REGISTRY)}; known kinds: {', '.join(REGISTRY)}")
    inputs = "one" if kind.input_range == (1, 1) else f"{kind.inputs_text}, named in `from`"
    lines = [f"{kind.name}: {kind.summary}", f"  inputs: {inputs}"]
    if kind.formulas:
        lines += ["  formulas:", *(f"    {formula}" for formula in kind.formulas)]
    else:
        lines.append(f"  FLOPs: {kind.flops_rule or 'none'}")
    lines.append(f"  saved for backward: {kind.saved_rule}")
    if kind.attrs:
        lines.append("  attributes:")
        for attr in kind.attrs:
            default = "required" if attr.required else _default_text(attr.default)
            lines.append(f"    {attr.name:<18} {attr.doc}" + (f" ({default})" if default else ""))
    return "\n".join(lines) + "\n"
