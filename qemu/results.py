#!/usr/bin/env python3
"""Read a VM run's logs and decide: KUnit KTAP (kernel console), userspace TAP
(program output channel), kernel splats, and whether the run finished.

Usage:
  results.py --console CONSOLE_LOG --output OUTPUT_LOG
Prints failed cases and splats, then one line "N passed, N failed"; exits 0 only
if every planned case passed, nothing splatted and the VM reached the end.
"""
import argparse
import re
import sys

# printk prefixes a line may carry on the console: timestamp, caller id.
PREFIX = re.compile(r"^(\[\s*\d+\.\d+\]\s?)?(\[\s*[TC]\d+\]\s?)?")

SPLATS = [
    r"BUG:",                       # BUG: KASAN ..., BUG: sleeping function ..., BUG: unable to handle
    r"kernel BUG at",
    r"WARNING:",                   # WARN_ON, lockdep (circular/recursive/suspicious RCU), ...
    r"\bOops\b",
    r"Kernel panic",
    r"general protection fault",
    r"unreferenced object 0x",     # kmemleak report
    r"suspected memory leak",
    r"UBSAN:",
    # Detectors of hangs and lockups, in the formats of the 6.12 sources:
    r"INFO: task \S+:\d+ blocked for more than",   # kernel/hung_task.c
    r"soft lockup - CPU#\d+ stuck for",            # kernel/watchdog.c ("watchdog: BUG: ...")
    r"Watchdog detected hard LOCKUP on cpu",        # kernel/watchdog.c (buddy and perf detectors)
    r"INFO: \S+ (self-)?detected (expedited )?stalls?\b",  # kernel/rcu/tree_stall.h, tree_exp.h, tasks.h
    r"BUG: KCSAN:",                                 # kernel/kcsan/report.c (also caught by "BUG:")
    r"inconsistent lock state",
    r"possible (recursive|circular) locking",
    r"@@RMMOD-FAILED",              # qemu/init: the module could not be unloaded (leak)
]
SPLAT = re.compile("|".join(SPLATS))

RESULT = re.compile(r"^(\s*)(not ok|ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(#\s*(.*))?$")
PLAN = re.compile(r"^(\s*)1\.\.(\d+)")


def clean(line):
    return PREFIX.sub("", line.rstrip("\r\n").replace("\r", ""))


def splats(lines):
    return [l for l in lines if SPLAT.search(l)]


def parse_ktap(lines):
    """KUnit results of the suites that ran at module load.

    Cases are the result lines one level below a suite ("# Subtest:"); a suite
    whose plan promises more cases than reported (a crash mid-suite) counts the
    missing ones as failed. The runs of a parameterised case (the module's
    Rust cases are the parameters of one C case) are the result lines one
    level deeper still, and count as cases too (named case.parameter). The suite runs at every load of the module (the
    tests reload it), so a case counts once: failed if any run failed."""
    passed, failed, skipped, missing = _parse_ktap_runs(lines)
    failed_set = set(failed)
    skipped_set = set(skipped) - failed_set
    passed_set = set(passed) - failed_set - skipped_set
    return sorted(passed_set), sorted(failed_set), sorted(skipped_set), missing


def _parse_ktap_runs(lines):
    passed, failed, skipped, missing = [], [], [], 0
    suite, suite_indent, plan, seen = None, None, None, 0
    params = []                             # runs of the parameterised case under way
    for line in lines:
        m = re.match(r"^(\s*)# Subtest: (\S+)", line)
        if m and (suite is None or len(m.group(1)) <= suite_indent):
            if suite is not None and plan is not None:
                missing += max(0, plan - seen)
            suite, suite_indent, plan, seen = m.group(2), len(m.group(1)), None, 0
            continue
        if suite is None:
            continue
        p = PLAN.match(line)
        if p and len(p.group(1)) == suite_indent and plan is None:
            plan = int(p.group(2))
            continue
        r = RESULT.match(line)
        if not r:
            continue
        indent = len(r.group(1))
        name = f"{suite}.{r.group(4)}"
        if indent > suite_indent:           # a run of a parameterised case
            directive = (r.group(6) or "").upper()
            params.append((r.group(4), "skip" if directive.startswith("SKIP") else r.group(2)))
            continue
        if indent == suite_indent:          # a case of the suite
            for param, verdict in params:
                pname = f"{name}.{param}"
                {"ok": passed, "not ok": failed, "skip": skipped}[verdict].append(pname)
            params = []
            seen += 1
            directive = (r.group(6) or "").upper()
            if directive.startswith("SKIP"):
                skipped.append(name)
            elif r.group(2) == "ok":
                passed.append(name)
            else:
                failed.append(name)
        elif indent < suite_indent:         # the suite's own result line closes it
            missing += max(0, (plan or 0) - seen)
            suite, plan = None, None
    if suite is not None:                   # never closed: the run died inside it
        missing += max(1, (plan or 0) - seen)
    return passed, failed, skipped, missing


def parse_tap(lines):
    """Userspace TAP: one or more streams, each starting with its plan."""
    passed, failed, skipped, missing = [], [], [], 0
    plan, seen, streams = None, 0, 0
    for line in lines:
        p = PLAN.match(line)
        if p and not p.group(1):
            if plan is not None:
                missing += max(0, plan - seen)
            plan, seen, streams = int(p.group(2)), 0, streams + 1
            continue
        r = RESULT.match(line)
        if not r or r.group(1):
            continue
        seen += 1
        name = r.group(4)
        directive = (r.group(6) or "").upper()
        if directive.startswith("SKIP"):
            skipped.append(name)
        elif r.group(2) == "ok" and not directive.startswith("TODO"):
            passed.append(name)
        else:
            failed.append(name)
    if plan is not None:
        missing += max(0, plan - seen)
    return passed, failed, skipped, missing, streams


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--expect-kunit", type=int, default=1,
                    help="minimum number of KUnit cases (0: none expected)")
    args = ap.parse_args()
    console = [clean(l) for l in open(args.console, errors="replace")]
    output = [clean(l) for l in open(args.output, errors="replace")]

    problems = []
    k_pass, k_fail, k_skip, k_missing = parse_ktap(console)
    t_pass, t_fail, t_skip, t_missing, streams = parse_tap(output)
    for name in k_fail:
        problems.append(f"KUnit case failed: {name}")
    for name in t_fail:
        problems.append(f"test failed: {name}")
    if k_missing:
        problems.append(f"{k_missing} KUnit case(s) planned but never reported")
    if t_missing:
        problems.append(f"{t_missing} test(s) planned but never reported")
    if len(k_pass) + len(k_fail) < args.expect_kunit:
        problems.append("KUnit did not run (no cases found in the console log)")
    if streams == 0:
        problems.append("no TAP plan in the program output")
    for s in splats(console):
        problems.append(f"kernel splat: {s.strip()}")
    if not any(l.startswith("@@EXIT ") for l in output):
        problems.append("the VM did not finish (no exit marker)")
    elif not any(l.startswith("@@EXIT 0") for l in output):
        problems.append("the test command exited non-zero")
    if not any("@@DONE" in l for l in console):
        problems.append("the VM did not reach the end of the run (no leak scan)")

    for p in problems:
        print(p)
    if k_skip or t_skip:
        print(f"{len(k_skip) + len(t_skip)} skipped")
    n_pass = len(k_pass) + len(t_pass)
    n_fail = len(k_fail) + len(t_fail) + k_missing + t_missing
    print(f"KUnit: {len(k_pass)} passed, {len(k_fail) + k_missing} failed; "
          f"userspace: {len(t_pass)} passed, {len(t_fail) + t_missing} failed")
    print(f"{n_pass} passed, {n_fail} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
