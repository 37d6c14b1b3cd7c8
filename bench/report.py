"""Prints bench/run.sh's results as Markdown tables, with the target ratios.

    python3 report.py RESULTS_DIR

Reads the hyperfine JSON exports (*.json), the `/usr/bin/time -v` outputs
(*.rss) and machine.txt that run.sh leaves in RESULTS_DIR. Exits 0, or 1 when
BENCH_STRICT=1 and a target is missed.
"""

import json
import os
import re
import sys
from pathlib import Path

MIB = 1024 * 1024


def load(results, name):
    """The runs of one hyperfine export, by command name."""
    path = results / f"{name}.json"
    if not path.exists():
        return {}
    return {r["command"]: r for r in json.loads(path.read_text())["results"]}


def rss_kib(results, name):
    path = results / f"{name}.rss"
    if not path.exists():
        return None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", path.read_text())
    return int(m.group(1)) if m else None


def secs(s):
    if s is None:
        return "-"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def mib(kib):
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def spread(r):
    sd = r.get("stddev") or 0.0
    return f"{secs(r['mean'])} ± {secs(sd)}"


def main(results):
    machine = dict(
        line.split("=", 1)
        for line in (results / "machine.txt").read_text().splitlines()
        if "=" in line
    )
    n = int(machine["fleet"])
    hive_mib = int(machine["hive_bytes"]) / MIB
    reg_mib = int(machine["reg_bytes"]) / MIB
    out = []
    p = out.append

    p("## Machine")
    p("")
    p(f"- CPU: {machine['cpu']}, nproc = {machine['nproc']}, {machine['memory']} memory")
    p(f"- kernel: {machine['kernel']}")
    p(
        f"- tlsreg {machine['tlsreg']}; hivex {machine['hivex']}; reglookup "
        f"{machine['reglookup']}; regipy {machine['regipy']} (Python {machine['python']}); "
        f"hyperfine {machine['hyperfine']}"
    )
    p(
        f"- inputs: SYSTEM hive {hive_mib:.1f} MiB (~{int(machine['hive_keys']):,} keys), "
        f"{n:,} copies of it, a {reg_mib:,.0f} MiB UTF-16LE .reg export"
    )
    p("")

    one = load(results, "one")
    rss_one = {
        "tlsreg audit": rss_kib(results, "one-tlsreg"),
        "hivexget, 1 value": rss_kib(results, "one-hivexget"),
        "reglookup, 5 values (2 calls)": rss_kib(results, "one-reglookup"),
        "regipy, 5 values": rss_kib(results, "one-regipy"),
    }
    p(f"## One SYSTEM hive ({hive_mib:.1f} MiB), whole process, warm cache")
    p("")
    p("| command | median | mean ± σ | min | vs tlsreg | peak RSS |")
    p("|---|---:|---:|---:|---:|---:|")
    base = one.get("tlsreg audit", {}).get("median")
    for name, r in one.items():
        rel = f"{r['median'] / base:.1f}x" if base else "-"
        p(
            f"| {name} | {secs(r['median'])} | {spread(r)} | {secs(r['min'])} | {rel} "
            f"| {mib(rss_one.get(name))} |"
        )
    p("")
    p("reglookup's RSS is of one call (`-p /Select`).")
    p("")

    fleet = {}
    for name in ("fleet-tlsreg", "fleet-hivexget", "fleet-reglookup", "fleet-regipy"):
        fleet.update(load(results, name))
    p(f"## {n:,} hives (one folder each, as SYSTEM), warm cache")
    p("")
    p("| command | median | runs | per hive | hives/s | peak RSS |")
    p("|---|---:|---:|---:|---:|---:|")
    for name, r in fleet.items():
        rss = rss_kib(results, "fleet-tlsreg") if name.startswith("tlsreg") else None
        p(
            f"| {name} | {secs(r['median'])} | {len(r['times'])} | {secs(r['median'] / n)} "
            f"| {n / r['median']:,.0f} | {mib(rss)} |"
        )
    p("")

    reg = {}
    reg.update(load(results, "reg-wc"))
    reg.update(load(results, "reg-tlsreg"))
    rss_reg = {"wc -l": rss_kib(results, "reg-wc"), "tlsreg audit": rss_kib(results, "reg-tlsreg")}
    p(f"## The {reg_mib:,.0f} MiB .reg export, warm cache")
    p("")
    p("| command | median | mean ± σ | min | throughput | peak RSS |")
    p("|---|---:|---:|---:|---:|---:|")
    for name, r in reg.items():
        p(
            f"| {name} | {secs(r['median'])} | {spread(r)} | {secs(r['min'])} "
            f"| {reg_mib / r['median']:,.0f} MiB/s | {mib(rss_reg.get(name))} |"
        )
    p("")

    targets = []

    def target(what, value, shown, goal, ok, best=""):
        targets.append((what, shown, best, goal, ok))

    t = one.get("tlsreg audit")
    h = one.get("hivexget, 1 value")
    if t and h:
        ratio = t["median"] / h["median"]
        best = t["min"] / h["min"]
        target("one hive: tlsreg time / one hivexget call", ratio, f"{ratio:.2f}", "<= 1.0", ratio <= 1.0, f"{best:.2f}")
    ft = fleet.get("tlsreg audit (one run)")
    fh = fleet.get("hivexget, 1 value (shell loop)")
    if ft and fh:
        speedup = fh["median"] / ft["median"]
        best = fh["min"] / ft["min"]
        target(f"{n:,} hives: hivexget loop time / tlsreg time", speedup, f"{speedup:.1f}x", ">= 20x", speedup >= 20, f"{best:.1f}x")
        rate = n / ft["median"]
        target(f"{n:,} hives: tlsreg hives/s", rate, f"{rate:,.0f}", "> 1,000", rate > 1000, f"{n / ft['min']:,.0f}")
    rt = reg.get("tlsreg audit")
    rw = reg.get("wc -l")
    if rt and rw:
        ratio = rt["median"] / rw["median"]
        best = rt["min"] / rw["min"]
        target(f"{reg_mib:,.0f} MiB .reg: tlsreg time / wc -l time", ratio, f"{ratio:.1f}", "<= 2.0", ratio <= 2.0, f"{best:.1f}")
    rr = rss_reg.get("tlsreg audit")
    if rr is not None:
        target(f"{reg_mib:,.0f} MiB .reg: tlsreg peak RSS", rr, mib(rr), "< 64 MiB", rr < 64 * 1024)

    p("## Targets")
    p("")
    p("Judged on medians; the best case (fastest run against fastest run) shows how much")
    p("of a miss or a margin is noise from other work on the machine.")
    p("")
    p("| target | median | best case | goal | met |")
    p("|---|---:|---:|---:|---|")
    for what, shown, best, goal, ok in targets:
        p(f"| {what} | {shown} | {best or '-'} | {goal} | {'yes' if ok else '**no**'} |")
    print("\n".join(out))
    missed = [t for t in targets if not t[4]]
    if missed and os.environ.get("BENCH_STRICT") == "1":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
