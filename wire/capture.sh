#!/bin/sh
# Record one server's packets in /captures/NAME.pcap and print a line for each.
#   capture.sh NAME FILTER    (FILTER: which packets, in tcpdump's language)
set -eu

# The file must belong to whoever owns the captures folder (on Linux, the owner
# of the checkout), so tcpdump runs as that user and group. As any user but
# root it keeps one privilege, raw sockets (NET_RAW), which capturing needs.
owner=$(stat -c %u /captures)
group=$(stat -c %g /captures)

# Port 9000 answers once tcpdump's packet socket is open (a line of its own
# below the header of /proc/net/packet); the clients wait for it.
ready.sh 9000 /proc/net/packet 1 &

# -n numbers, not names; -l and -U each line and each packet out at once;
# --print show the packets while writing them; -Z root stay the user chosen
# here (tcpdump started as root would switch to a user of its own).
exec setpriv --reuid="$owner" --regid="$group" --clear-groups \
    --inh-caps=+net_raw --ambient-caps=+net_raw \
    tcpdump -i eth0 -n -l -U --print -Z root -w "/captures/$1.pcap" "$2"
