"""How far the roofline estimate is from measurement, over the zoo, on this machine.

1. `netcalc calibrate`'s measurement of this CPU (NumPy GEMM FLOP/s, STREAM copy bandwidth) is the device.
2. Each zoo network runs forward twice through the NumPy reference pass (inference, batch 1, float32), which
   times every layer (the faster of the two runs counts); the roofline estimates every layer's time from its
   FLOPs and bytes moved.
3. Printed: per network the measured and estimated totals and their ratio, then the median and the worst
   ratio over the zoo, and the same per layer (layers measured above 1 ms).

An honest figure, not a tuned one: the estimate knows nothing of im2col copies, Python overhead per layer or
caches, so expect the reference pass to be slower than its roofline; the ratio says by how much.
Run: python benchmarks/bench_roofline.py [spec …]
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netcalc import analyze_network, load_network  # noqa: E402
from netcalc.analysis.roofline import estimate  # noqa: E402
from netcalc.reference.calibrate import calibrate  # noqa: E402
from netcalc.reference.engine import run  # noqa: E402

ZOO = [
    "lenet5",
    "alexnet",
    "vgg11",
    "vgg16",
    "resnet18",
    "resnet50",
    "googlenet",
    "mobilenet_v2",
    "squeezenet1_0",
    "densenet121",
]


def main(specs: list[str]) -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    device = calibrate(seconds=1.0, dtypes=("float32",))
    print(
        f"calibrated: float32 {device.peak_flops['float32'] / 1e9:.1f} GFLOP/s, "
        f"bandwidth {device.memory_bandwidth / 1e9:.1f} GB/s, ridge {device.ridge('float32'):.1f} FLOP/B\n"
    )
    print(f"{'network':<16} {'measured':>10} {'estimated':>10} {'ratio':>7}")
    totals, per_layer = [], []
    for spec in specs:
        path = ROOT / "specs" / f"{spec}.yaml" if "/" not in spec else Path(spec)
        network = load_network(path)
        roofline = estimate(analyze_network(network), device)
        runs = [run(network, backward=False, train=False).layers for _ in range(2)]  # the first also warms up
        measured = {layers[0].name: min(layer.forward_seconds for layer in layers) for layers in zip(*runs)}
        total = sum(measured.values())
        totals.append(total / roofline.seconds)
        print(f"{network.name:<16} {total * 1e3:>8.1f}ms {roofline.seconds * 1e3:>8.1f}ms {totals[-1]:>7.2f}")
        per_layer += [measured[e.name] / e.seconds for e in roofline.layers if measured[e.name] > 1e-3]
    print(
        f"\nper network, measured / estimated: median {statistics.median(totals):.2f}, "
        f"best {min(totals):.2f}, worst {max(totals):.2f}"
    )
    if per_layer:
        print(
            f"per layer (>1 ms, {len(per_layer)} layers): median {statistics.median(per_layer):.2f}, "
            f"best {min(per_layer):.2f}, worst {max(per_layer):.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ZOO)
