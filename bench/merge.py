"""Keeps an earlier run's rows for the scales a new run did not measure.

    python3 bench/merge.py NEW_DIR [--why "reason"]

NEW_DIR holds the new run's results.json (`BENCH_OUT=NEW_DIR bench/run.sh ...`). The merged
result replaces bench/results.json: the new run's rows, plus bench/results.json's rows (seeding
figures and problems included) for every scale the new run lacks, recorded under
`meta.carried` with the earlier run's time and commit so RESULTS.md says where they come from.
Then bench/report.py writes RESULTS.md and the chart.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import report

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("new_dir", type=Path)
    ap.add_argument("--why", default="")
    args = ap.parse_args()
    new = json.loads((args.new_dir / "results.json").read_text())
    old = json.loads((HERE / "results.json").read_text())
    measured = {r["scale"] for r in new["rows"]}
    kept = sorted({r["scale"] for r in old["rows"]} - measured)
    carried = dict(new["meta"].get("carried", {}))
    for sc in kept:
        new["rows"] += [r for r in old["rows"] if r["scale"] == sc]
        if str(sc) in old.get("infos", {}):
            new.setdefault("infos", {})[str(sc)] = old["infos"][str(sc)]
        new["problems"] += [p for p in old.get("problems", []) if p.startswith(f"scale {sc} ")]
        earlier = old["meta"].get("carried", {}).get(str(sc)) or {
            "started": old["meta"]["started"], "git": old["meta"]["git"]}
        carried[str(sc)] = {**earlier, "why": args.why}
    if carried:
        new["meta"]["carried"] = carried
    (HERE / "results.json").write_text(json.dumps(new, indent=1, ensure_ascii=False, default=str))
    report.write(new, HERE)
    print(f"merged: measured {sorted(measured)}, carried {kept}")


if __name__ == "__main__":
    main()
