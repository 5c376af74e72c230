"""``python -m mmgate power``: run the power study on each subject, write ``power.json`` and
``power.md`` atomically, print one line per failure and the POWER line last."""

from __future__ import annotations

import datetime
import json
import platform
from collections.abc import Sequence
from pathlib import Path

from mmgate.gating.contract import Contract
from mmgate.power import study
from mmgate.records.atomic import write_bytes_atomic


def power_main(out: Path, subjects: Sequence[str], draws: int) -> int:
    """Study every subject under its broken-model defaults (the user profile); exit 0."""
    studies = [study.study_subject(spec, lambda: Contract.for_subject(False), draws=draws) for spec in subjects]
    counts = study.summary(studies)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    facts = {"date": stamp, "machine": machine, "counts": counts, "studies": studies}
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "power.json", json.dumps(facts, indent=1, sort_keys=True).encode("utf-8"))
    table = study.markdown_table(studies)
    write_bytes_atomic(out / "power.md", (f"Measured {stamp} on {machine}.\n\n" + table).encode("utf-8"))
    for item in studies:
        for row in item["failures"]:
            if "grades" not in row:
                print(f"{item['subject']:20s} {row['failure']:26s} not applicable: {row['not_applicable']}")
                continue
            alone, based = row["alone"], row["with_baseline"]
            print(f"{item['subject']:20s} {row['failure']:26s} smallest detected alone {alone['smallest_detected']}, "
                  f"with a baseline {based['smallest_detected']} by {','.join(based['detected_by'][:4]) or '-'}")
        fa = [d["decision_interval"] for d in item["healthy"]]
        print(f"{item['subject']:20s} healthy draws: {fa.count('REJECT')} REJECT, {fa.count('INCOMPLETE')} "
              f"INCOMPLETE, {fa.count('APPROVE')} APPROVE (point rule: "
              f"{sum(d['decision_point'] == 'REJECT' for d in item['healthy'])} REJECT)")
    print(f"table {out / 'power.md'}")
    print(study.power_line(counts))
    return 0
