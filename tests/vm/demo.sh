#!/bin/sh
# Inside the VM: what `make demo` shows.
echo "== the module is loaded and registered its family"
grep '^mcast_unix ' /proc/modules
echo "family parameter: $(cat /sys/module/mcast_unix/parameters/family)"
dmesg | grep -i 'mcast_unix' | grep -v '^\s*#' | tail -n 3
grep -E '^(protocol|MCAST_UNIX)' /proc/net/protocols | cut -c1-40
echo
echo "== KUnit ran at insmod"
dmesg | grep -E '# (mcast_unix|Totals)' | sed 's/^\[[^]]*\] //'
echo
echo "== sockets of the family"
/mcast-tests "socket:" | grep -v '^#\|TAP'
echo
/mcast-demo 2>/dev/null || true
