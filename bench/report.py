"""Prints bench/run.sh's results as Markdown: a dated header line, the tables of
times and peak RSS, and every target with MET / NOT MET. Headings are at level 3,
so the output can sit verbatim under a README section.

    python3 report.py RESULTS_DIR

Reads the hyperfine JSON exports (*.json), the `/usr/bin/time -v` outputs
(*.rss) and machine.txt that run.sh leaves in RESULTS_DIR. Exits 0, or 1 when
BENCH_STRICT=1 and a target is missed (or could not be measured).
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


def first(results, name):
    """The one command of a hyperfine export, or None."""
    runs = list(load(results, name).values())
    return runs[0] if runs else None


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


def rate(n, s):
    return f"{n / s:,.0f}"


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
    flat = [int(x) for x in machine["flat"].split()]
    dirty_every = int(machine["flat_dirty_every"])
    big = int(machine["big"])
    many = int(machine["many"])
    hive_mib = int(machine["hive_bytes"]) / MIB
    reg_mib = int(machine["reg_bytes"]) / MIB
    out = []
    p = out.append

    p(
        f"Run of {machine['date']}: tlsreg {machine['tlsreg']}; {machine['cpu']}, "
        f"nproc = {machine['nproc']}, {machine['memory']} memory, {machine['kernel']}"
    )
    p("")
    p("### Machine and inputs")
    p("")
    p(
        f"- hivex {machine['hivex']}; reglookup {machine['reglookup']}; regipy "
        f"{machine['regipy']} (Python {machine['python']}); hyperfine {machine['hyperfine']}"
    )
    dirty = "none dirty" if dirty_every == 0 else f"1 in {dirty_every} dirty"
    p(
        f"- inputs: SYSTEM hive {hive_mib:.1f} MiB (~{int(machine['hive_keys']):,} keys); "
        f"fleets of hard links to it: {n:,} and {big:,} folders of one hive, one flat folder "
        f"of {', '.join(f'{x:,}' for x in flat)} hives with their .LOG1/.LOG2 ({dirty}); "
        f"{many:,} folders of a {int(machine['tiny_bytes']):,}-byte hive; "
        f"a {reg_mib:,.0f} MiB UTF-16LE .reg export"
    )
    p("")

    one = load(results, "one")
    rss_one = {
        "tlsreg audit": rss_kib(results, "one-tlsreg"),
        "hivexget, 1 value": rss_kib(results, "one-hivexget"),
        "reglookup, 5 values (2 calls)": rss_kib(results, "one-reglookup"),
        "regipy, 5 values": rss_kib(results, "one-regipy"),
    }
    p(f"### One SYSTEM hive ({hive_mib:.1f} MiB), whole process, warm cache")
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
    p(f"### {n:,} hives (one folder each, as SYSTEM), warm cache")
    p("")
    p("| command | median | runs | per hive | hives/s | peak RSS |")
    p("|---|---:|---:|---:|---:|---:|")
    for name, r in fleet.items():
        rss = rss_kib(results, "fleet-tlsreg") if name.startswith("tlsreg") else None
        p(
            f"| {name} | {secs(r['median'])} | {len(r['times'])} | {secs(r['median'] / n)} "
            f"| {rate(n, r['median'])} | {mib(rss)} |"
        )
    p("")

    flat_runs = {}  # hives -> tlsreg's hyperfine result
    flat_runs[flat[0]] = first(results, "flat-tlsreg")
    for m in flat[1:]:
        flat_runs[m] = first(results, f"flat{m}-tlsreg")
    flat_hx = first(results, "flat-hivexget")
    p(
        f"### Hives in one flat folder (SYSTEM-hostNNNN with .LOG1 and .LOG2, {dirty}), warm cache"
    )
    p("")
    p(f"| command | hives | median | runs | per hive | hives/s | vs {flat[0]:,} | peak RSS |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|")
    base = flat_runs.get(flat[0])
    rows = [(f"tlsreg audit (one run)", m, r, rss_kib(results, f"flat{m}-tlsreg")) for m, r in flat_runs.items()]
    rows.insert(1, ("hivexget, 1 value (shell loop)", flat[0], flat_hx, None))
    for name, m, r, rss in rows:
        if r is None:
            continue
        vs = f"{r['median'] / base['median']:.2f}x" if base and name.startswith("tlsreg") else "-"
        p(
            f"| {name} | {m:,} | {secs(r['median'])} | {len(r['times'])} | {secs(r['median'] / m)} "
            f"| {rate(m, r['median'])} | {vs} | {mib(rss)} |"
        )
    p("")

    big_r = first(results, "big-tlsreg")
    many_r = first(results, "many-tlsreg")
    big_rss = rss_kib(results, "big-tlsreg")
    many_rss = rss_kib(results, "many-tlsreg")
    p("### Many inputs, one folder each, `tlsreg audit --format jsonl`, warm cache")
    p("")
    p("| inputs | hive | median | runs | inputs/s | peak RSS |")
    p("|---:|---|---:|---:|---:|---:|")
    for count, what, r, rss in (
        (big, f"{hive_mib:.1f} MiB", big_r, big_rss),
        (many, f"{int(machine['tiny_bytes']) // 1024} KiB (tiny)", many_r, many_rss),
    ):
        if r is None:
            continue
        p(
            f"| {count:,} | {what} | {secs(r['median'])} | {len(r['times'])} "
            f"| {rate(count, r['median'])} | {mib(rss)} |"
        )
    p("")

    reg = {}
    reg.update(load(results, "reg-wc"))
    reg.update(load(results, "reg-tlsreg"))
    rss_reg = {"wc -l": rss_kib(results, "reg-wc"), "tlsreg audit": rss_kib(results, "reg-tlsreg")}
    p(f"### The {reg_mib:,.0f} MiB .reg export, warm cache")
    p("")
    p("| command | median | mean ± σ | min | throughput | peak RSS |")
    p("|---|---:|---:|---:|---:|---:|")
    for name, r in reg.items():
        p(
            f"| {name} | {secs(r['median'])} | {spread(r)} | {secs(r['min'])} "
            f"| {reg_mib / r['median']:,.0f} MiB/s | {mib(rss_reg.get(name))} |"
        )
    p("")

    # One row per target of the issue: (what, measured, best case, goal, met).
    # A row whose figures are missing is NOT MET: nothing was shown.
    targets = []

    def target(what, goal, measured="not measured", best="-", ok=False):
        targets.append((what, measured, best, goal, ok))

    def speedup_row(what, count, t, h):
        goal = ">= 20x; > 1,000 hives/s"
        if not (t and h):
            return target(what, goal)
        speedup, best = h["median"] / t["median"], h["min"] / t["min"]
        hs, best_hs = count / t["median"], count / t["min"]
        target(
            what,
            goal,
            f"{speedup:.1f}x; {hs:,.0f} hives/s",
            f"{best:.1f}x; {best_hs:,.0f} hives/s",
            speedup >= 20 and hs > 1000,
        )

    t = one.get("tlsreg audit")
    h = one.get("hivexget, 1 value")
    what = f"one {hive_mib:.1f} MiB SYSTEM hive: tlsreg / one hivexget call"
    if t and h:
        ratio = t["median"] / h["median"]
        target(what, "<= 1.0", f"{ratio:.2f}", f"{t['min'] / h['min']:.2f}", ratio <= 1.0)
    else:
        target(what, "<= 1.0")
    speedup_row(
        f"{n:,} hives, one folder each: hivexget loop / tlsreg; tlsreg hives/s",
        n,
        fleet.get("tlsreg audit (one run)"),
        fleet.get("hivexget, 1 value (shell loop)"),
    )
    speedup_row(
        f"{flat[0]:,} hives in one flat folder: hivexget loop / tlsreg; tlsreg hives/s",
        flat[0],
        base,
        flat_hx,
    )
    what = f"{flat[1]:,} and {flat[2]:,} hives in one flat folder: time / the {flat[0]:,} run"
    goal = f"<= {flat[1] / flat[0] * 1.25:g}x; <= {flat[2] / flat[0] * 1.25:g}x (linear)"
    r2, r4 = flat_runs.get(flat[1]), flat_runs.get(flat[2])
    if base and r2 and r4:
        x2, x4 = r2["median"] / base["median"], r4["median"] / base["median"]
        b2, b4 = r2["min"] / base["min"], r4["min"] / base["min"]
        ok = x2 <= flat[1] / flat[0] * 1.25 and x4 <= flat[2] / flat[0] * 1.25
        target(what, goal, f"{x2:.2f}x; {x4:.2f}x", f"{b2:.2f}x; {b4:.2f}x", ok)
    else:
        target(what, goal)
    for count, label, r, rss in (
        (big, "hives", big_r, big_rss),
        (many, "tiny hives", many_r, many_rss),
    ):
        what = f"{count:,} {label}, one folder each, --format jsonl: peak RSS (time, inputs/s)"
        if r and rss is not None:
            shown = f"{mib(rss)} ({secs(r['median'])}, {rate(count, r['median'])}/s)"
            target(what, "< 64 MiB", shown, "-", rss < 64 * 1024)
        else:
            target(what, "< 64 MiB")
    rt = reg.get("tlsreg audit")
    rw = reg.get("wc -l")
    rr = rss_reg.get("tlsreg audit")
    what = f"the {reg_mib:,.0f} MiB UTF-16LE .reg: tlsreg / wc -l; tlsreg peak RSS"
    goal = "<= 2.0 (aim <= 1.0); < 64 MiB"
    if rt and rw and rr is not None:
        ratio, best = rt["median"] / rw["median"], rt["min"] / rw["min"]
        target(what, goal, f"{ratio:.1f}; {mib(rr)}", f"{best:.1f}; -", ratio <= 2.0 and rr < 64 * 1024)
    else:
        target(what, goal)

    p("### Targets")
    p("")
    p("Judged on medians; the best case (fastest run against fastest run) shows how much")
    p("of a miss or a margin is noise from other work on the machine.")
    p("")
    p("| target | measured | best case | goal | verdict |")
    p("|---|---:|---:|---|---|")
    for what, shown, best, goal, ok in targets:
        p(f"| {what} | {shown} | {best} | {goal} | {'MET' if ok else '**NOT MET**'} |")
    met = sum(1 for t in targets if t[4])
    p("")
    p(f"{met} of {len(targets)} targets met.")
    print("\n".join(out))
    if met < len(targets) and os.environ.get("BENCH_STRICT") == "1":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
