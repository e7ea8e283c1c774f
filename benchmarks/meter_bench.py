"""The meter's own benchmark (ht_dash.meter.bench), its result written where run.py reads it.

python benchmarks/meter_bench.py --out FILE [--requests 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import traceback
from dataclasses import asdict


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    try:
        from ht_dash.meter.bench import run_benchmark

        result = asdict(run_benchmark(args.requests, args.concurrency))
    except Exception as exc:
        traceback.print_exc()
        result = {"error": "".join(traceback.format_exception_only(exc)).strip()}
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
