#!/bin/sh
# Inside the VM: what `make demo` shows.
say() { printf '\n== %s\n' "$*"; }

say "the module is loaded and registered its family"
grep '^mcast_unix ' /proc/modules
echo "family parameter: $(cat /sys/module/mcast_unix/parameters/family)"
dmesg | grep 'mcast_unix: registered' | sed 's/^\[[^]]*\] //'
dmesg | grep -E '# (mcast_unix|Totals):' | sed 's/^\[[^]]*\] //' | head -n 1

say "a datagram group: one publisher, three subscribers (mcastctl)"
/mcastctl create --duration 30 @demo-signals &
owner=$!
/mcastctl wait @demo-signals
for who in alice bob carol; do /mcastctl join --count 3 --label "$who" @demo-signals & done
/mcastctl wait --members 3 @demo-signals
/mcastctl stat
/mcastctl send @demo-signals NameOwnerChanged PropertiesChanged InterfacesAdded
wait %2 %3 %4 2>/dev/null; sleep 1
/mcastctl stat --groups

say "sender identity and credentials, stamped by the kernel"
/mcastctl recv --count 1 --creds --sender-id @demo-inbox &
inbox=$!
until /mcastctl stat --raw | grep -q ' @demo-inbox '; do sleep 1; done
/mcastctl send @demo-inbox 'who am I?'
wait $inbox

say "a seqpacket group: the owner admits by uid (SO_PEERCRED) and sees copies"
/mcastctl create --seqpacket --allow-uid 0 --send-to-peer --duration 20 @demo-room &
room=$!
/mcastctl wait @demo-room
/mcastctl join --seqpacket --count 1 --label dave @demo-room &
dave=$!
/mcastctl wait --members 1 @demo-room
/mcastctl send --seqpacket @demo-room 'hello, room'
wait $dave; sleep 1
/mcastctl watch --count 2 --interval 500 --groups | cat   # not a terminal: no screen clearing
kill $room 2>/dev/null

say "topic filters in the kernel (Rust client library: examples/bus.rs)"
/bus-example

say "the documentation's C examples"
for ex in /example-*; do "$ex" | grep '^ok'; done
kill $owner 2>/dev/null
exit 0
