#!/bin/sh
# Inside the VM: what `make demo` shows.
say() { printf '\n== %s\n' "$*"; }

say "the module is loaded and registered its family"
grep '^mcast_unix ' /proc/modules
echo "family parameter: $(cat /sys/module/mcast_unix/parameters/family)"
dmesg | grep 'mcast_unix: registered' | sed 's/^\[[^]]*\] //'
dmesg | grep -E '# (mcast_unix|Totals):' | sed 's/^\[[^]]*\] //' | head -n 1

say "a datagram group: one publisher, three subscribers"
/mcast create @demo-signals 30 &
owner=$!
/mcast wait @demo-signals 0
for who in alice bob carol; do /mcast sub @demo-signals "$who" 3 & done
/mcast wait @demo-signals 3
/mcast list
/mcast pub @demo-signals NameOwnerChanged PropertiesChanged InterfacesAdded
wait %2 %3 %4 2>/dev/null; sleep 1
/mcast list | grep '^G'

say "topic filters in the kernel (Rust client library: examples/bus.rs)"
/bus-example

say "the documentation's C examples"
for ex in /example-*; do "$ex" | grep '^ok'; done
kill $owner 2>/dev/null
exit 0
