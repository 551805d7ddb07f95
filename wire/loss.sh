#!/bin/sh
# Lose some of the lab's packets in one server's network namespace, and print a
# line for each packet lost.
#   loss.sh PROTOCOL PORT    (for example: loss.sh tcp 10000)
#   loss.sh check            (only check the settings)
set -eu

percent=${LOSS_PERCENT:-20}
every=${LOSS_EVERY:-}
fail() {
    echo "Error: $1 must be a whole number from $2, not '$3'" >&2
    exit 1
}
case $percent in
    [0-9] | [1-9][0-9] | 100) ;;
    *) fail LOSS_PERCENT "0 to 100" "$percent" ;;
esac
case $every in
    "" | [1-9] | [1-9][0-9] | 100) ;;
    *) fail LOSS_EVERY "1 to 100" "$every" ;;
esac
[ "$1" = check ] && exit 0

if [ -n "$every" ]; then  # a counter: the same packets are lost in every run
    lose="numgen inc mod $every == 0"
    echo "Losing packets 1, $((every + 1)), $((2 * every + 1)), ..." \
        "of $1 port $2"
else                      # a die with faces 1 to 100, rolled for each packet
    lose="numgen random mod 100 offset 1 <= $percent"
    echo "Losing $percent % of the packets of $1 port $2, at random"
fi

# Two hooks of the server's own network stack catch the lab's packets on their
# way in (input) and out (output). Both jump to one rule, so the packets of
# both directions take turns on its die or counter. The rule counts each
# packet it drops ("counter": see `nft list ruleset`), copies it to log
# group 1 ("log"), then drops it: the server's kernel never receives it, or
# never sends it. The first two lines make a restart replace the table, not
# add a second set of rules beside the first.
nft -f - <<RULES
table ip socket_lab_loss
delete table ip socket_lab_loss
table ip socket_lab_loss {
    chain lose { $lose counter log group 1 queue-threshold 1 drop; }
    chain in { type filter hook input priority 0; $1 dport $2 jump lose; }
    chain out { type filter hook output priority 0; $1 sport $2 jump lose; }
}
RULES

# Port 9001 answers once the rules are in and tcpdump reads log group 1 (a line
# in /proc/net/netfilter/nfnetlink_log); the clients wait for it.
ready.sh 9001 /proc/net/netfilter/nfnetlink_log 0 &

# Print each lost packet, and keep them in /captures/PROTOCOL-lost.pcap (as
# plain IPv4 packets, -y IPV4) for draw.py. tcpdump runs as the owner of the
# captures folder, as in capture.sh, keeping NET_ADMIN to read log group 1.
exec setpriv --reuid="$(stat -c %u /captures)" --regid="$(stat -c %g /captures)" \
    --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin \
    tcpdump -i nflog:1 -y IPV4 -n -l -U --print -Z root -w "/captures/$1-lost.pcap"
