#!/usr/bin/env python3
"""Symbolizes the sample histogram scripts/cost --perf printed: kernel
addresses with the perf kernel's vmlinux, the module's with its .ko (loaded
at the base /proc/modules showed). Prints the functions by share of samples.

    symbolize.py OUTPUT_LOG VMLINUX MODULE_KO [TOP]
"""
import bisect
import collections
import re
import subprocess
import sys


def symbols(path, base=0):
    out = subprocess.run(['nm', '-C', '--defined-only', '-n', path],
                         capture_output=True, text=True, check=True).stdout
    table = []
    for line in out.splitlines():
        parts = line.split(' ', 2)
        if len(parts) == 3 and parts[1] in 'tTwW':
            table.append((int(parts[0], 16) + base, parts[2]))
    table.sort()
    return table


def main():
    log, vmlinux, ko = sys.argv[1:4]
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    text = open(log, errors='replace').read().replace('\r', '')
    base = re.search(r'^mcast_unix \d+ \d+ - Live (0x[0-9a-f]+)', text, re.M)
    section = re.search(r'^== perf (\S+)\n(.*?)^== perf end', text, re.M | re.S)
    if not base or not section:
        sys.exit('symbolize.py: no perf samples in the log')
    mbase = int(base.group(1), 16)
    kernel, module = symbols(vmlinux), symbols(ko, mbase)
    module_end = module[-1][0] + 0x10000 if module else mbase
    counts = collections.Counter()
    total = 0
    for line in section.group(2).splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        n, ip = int(parts[0]), int(parts[1], 16)
        total += n
        if ip < 0xffff800000000000:
            name = '[user]'
        else:
            table = module if mbase <= ip < module_end else kernel
            i = bisect.bisect_right(table, (ip, '\uffff')) - 1
            name = table[i][1] if i >= 0 else hex(ip)
            name = re.sub(r'::h[0-9a-f]{16}$', '', name)
            if table is module:
                name = '[mcast_unix] ' + name
        counts[name] += n
    print(f'perf {section.group(1)}: {total} samples (the idle task left out)')
    for name, n in counts.most_common(top):
        print(f'{n:7d} {100 * n / total:5.1f}%  {name[:120]}')


if __name__ == '__main__':
    main()
