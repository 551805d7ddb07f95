#!/usr/bin/env python3
"""Draw the lab's last recorded run as ladder diagrams, one per protocol.

    draw.py [FOLDER]    (default /captures, the lab's wire/captures)

Reads what each server's network interface saw (tcp.pcap, udp.pcap) and,
after a run with loss, what the loss rules dropped (tcp-lost.pcap,
udp-lost.pcap). Prints each ladder as text, one arrow per packet, and writes
it as a Mermaid diagram into tcp.md and udp.md beside the captures.
"""
import os
import sys
import types
from pathlib import Path

import dpkt  # from PyPI, in the wire image: reads pcap files, decodes packets

FOLDER = Path(sys.argv[1] if len(sys.argv) > 1 else "/captures")
SHOWN = "wire/captures"  # what FOLDER is called in the student's clone
CAPTURE = "docker compose -f docker-compose.yml -f wire/capture.yml up --build"
LEFT, RIGHT = 8, 78  # the columns of the two hosts in the text ladder
SYN, FIN, RST, ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST, dpkt.tcp.TH_ACK


def fail(message):
    sys.exit(f"Error: {message}")


def read(name, link):
    """The IPv4 packets of one pcap file as (time, packet); None if no file."""
    path = FOLDER / name
    if not path.exists():
        return None
    if path.stat().st_size == 0:
        fail(f"{SHOWN}/{name} is empty: the capture never started; "
             f"run it again: {CAPTURE}")
    packets = []
    try:
        with open(path, "rb") as file:
            for time, frame in dpkt.pcap.Reader(file):
                ip = link(frame)
                if not isinstance(ip, dpkt.ip.IP):
                    continue
                if len(ip) < ip.len:  # the file ends inside this packet
                    raise dpkt.NeedData
                packets.append((time, ip))
    except (ValueError, dpkt.UnpackError):
        fail(f"{SHOWN}/{name} is cut short, or is no capture; "
             f"run the lab again: {CAPTURE}")
    return packets


def ends(ip):
    """The two (address, port) ends of a packet; a later fragment has none."""
    src, dst = dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst)
    if isinstance(ip.data, (dpkt.tcp.TCP, dpkt.udp.UDP)):
        return (src, ip.data.sport), (dst, ip.data.dport)
    return (src, None), (dst, None)


def merge(captured, dropped):
    """One list of packets in time order, each marked lost or not; None if
    the drop log is from a later run than the capture.

    A packet dropped on its way in is in both records (the capture sees it
    before the rules drop it); one dropped on its way out only in the drop
    log. A drop from a connection the capture never saw is another run's."""
    packets = [types.SimpleNamespace(time=t, ip=ip, lost=False)
               for t, ip in captured]
    flows = {frozenset(ends(p.ip)) for p in packets}
    ours = [(t, ip) for t, ip in dropped if frozenset(ends(ip)) in flows]
    if packets and dropped and not ours and dropped[0][0] > packets[-1].time:
        return None
    for time, ip in ours:
        same = [p for p in packets if not p.lost and bytes(p.ip) == bytes(ip)
                and 0 <= time - p.time < 0.5]
        if same:
            same[-1].lost = True
        else:
            packets.append(types.SimpleNamespace(time=time, ip=ip, lost=True))
    return sorted(packets, key=lambda p: p.time)


def datagrams(packets):
    """Join IP fragments: one entry per datagram, with its fragment count."""
    joined, first = [], {}
    for p in packets:
        key = (p.ip.src, p.ip.dst, p.ip.id)
        if p.ip.offset and key in first:  # a later fragment
            first[key].fragments += 1
            first[key].lost |= p.lost
            continue
        p.fragments = 1
        first[key] = p
        joined.append(p)
    return joined


def label_tcp(p, flow):
    """SYN, SYN-ACK, data with its byte numbers, FIN, RST, or ACK n."""
    tcp, sender = p.ip.data, ends(p.ip)[0]
    base = flow.setdefault(sender, tcp.seq - (0 if tcp.flags & SYN else 1))
    peer = flow.get(ends(p.ip)[1], tcp.ack - 1)
    start = (tcp.seq - base) % 2**32  # byte numbers count from 1, as Wireshark's
    words = []
    if tcp.flags & SYN:
        words.append("SYN-ACK" if tcp.flags & ACK else "SYN")
    if tcp.data:
        words.append(f"data, bytes {start}-{start + len(tcp.data) - 1}")
    if tcp.flags & FIN:
        words.append("FIN")
    if tcp.flags & RST:
        words.append("RST")
    if not words:
        words.append(f"ACK {(tcp.ack - peer) % 2**32}")
    # The sequence numbers this segment takes: a copy of any of them is a
    # segment sent again, by the sender's kernel.
    end = start + len(tcp.data) + bool(tcp.flags & SYN) + bool(tcp.flags & FIN)
    sent = flow.setdefault((sender, "sent"), [])
    earlier = [time for first, last, time in sent if max(first, start) < min(last, end)]
    sent.append((start, end, p.time))
    return ", ".join(words), min(earlier, default=None)


def label_udp(p, flow):
    """The datagram's size and fragments; a copy is one the program resent."""
    size = p.ip.data.ulen - 8 if isinstance(p.ip.data, dpkt.udp.UDP) else 0
    text = f"datagram, {size} bytes"
    if p.fragments > 1:
        text += f", {p.fragments} fragments"
    key = (ends(p.ip)[0], bytes(getattr(p.ip.data, "data", p.ip.data)))
    earlier = flow.get(key)
    flow.setdefault(key, p.time)
    return text, earlier


def ladder(protocol, packets):
    """Label every packet; return the text ladder, the Mermaid lines, and
    the figures for the tally."""
    client, server = f"{protocol}-client", f"{protocol}-server"
    text = [f"{'seconds':>7} {client}{server:>{RIGHT - LEFT + 1 - len(client)}}"]
    mermaid = ["sequenceDiagram", f"    participant C as {client}",
               f"    participant S as {server}"]
    flows, again = {}, []
    # One connection (or UDP client) after another, each in time order.
    order = {}
    for p in packets:
        order.setdefault(frozenset(ends(p.ip)), len(order))
    for p in sorted(packets, key=lambda p: order[frozenset(ends(p.ip))]):
        here, there = ends(p.ip)
        key = frozenset((here, there))
        if key not in flows:  # a new connection: its own header
            # What its labels remember: which end is the client, each side's
            # first sequence number, and what each side has sent so far.
            flows[key] = {"client": here}
            who = f"{here[0]}:{here[1]} to {there[0]}:{there[1]}"
            title = f"{'connection' if protocol == 'tcp' else 'client'}" \
                    f" {len(flows)}: {who}"
            text.append(f"{'':8}{' ' + title + ' ':-^{RIGHT - LEFT + 1}}")
            mermaid.append(f"    Note over C,S: {title}")
        flow = flows[key]
        label = label_tcp if protocol == "tcp" else label_udp
        words, first = label(p, flow)
        if first is not None:
            words += f", sent again after {p.time - first:.2f} s"
            again.append((here == flow["client"], p.time - first))
        elapsed = p.time - packets[0].time
        rightwards = here == flow["client"]
        text.append(f"{elapsed:7.3f} " + arrow(words, rightwards, p.lost))
        mermaid.append(f"    {'C' if rightwards else 'S'}"
                       f"{'-x' if p.lost else '->>'}{'S' if rightwards else 'C'}"
                       f": {elapsed:.3f} s, {words}{' (lost)' if p.lost else ''}")
    return text, mermaid, again, len(flows)


def arrow(words, rightwards, lost):
    """|-- words ---->|, or |<---- words --|; a lost one stops at an X."""
    inner = RIGHT - LEFT - 1
    words = f" {words} "
    line = "-" * (inner - len(words) - 3)
    if lost:
        line = line[:-5] + "X" + " " * 5 if rightwards else " " * 5 + "X" + line[:-5]
        return f"|--{words}{line}|" if rightwards else f"|{line}{words}--|"
    return f"|--{words}{line}>|" if rightwards else f"|<{line}{words}--|"


def tally(protocol, packets, again, connections):
    lost = sum(p.lost for p in packets) or "none"
    if protocol == "tcp":
        return (f"TCP: {len(packets)} packets"
                + (f" in {connections} connections" if connections > 1 else "")
                + f", {lost} lost, {len(again) or 'none'} sent again by the "
                "kernels")
    line = f"UDP: {len(packets)} datagrams, {lost} lost"
    if again:
        who = "client" if again[0][0] else "server"
        line += (f", sent again by the {who} after {again[0][1]:.2f} s"
                 if len(again) == 1 else
                 f", sent again by the {who} {len(again)} times")
    elif lost != "none":
        line += ", never sent again"
    return line


def draw(protocol):
    """Draw one protocol's ladder; return its tally line, or None."""
    captured = read(f"{protocol}.pcap", lambda frame: dpkt.ethernet.Ethernet(
        frame).data)
    if captured is None:
        return None
    dropped = read(f"{protocol}-lost.pcap", dpkt.ip.IP) or []
    packets = merge(captured, dropped)
    if packets is None:
        fail(f"{SHOWN}/{protocol}.pcap is older than {protocol}-lost.pcap: "
             "run the loss with the capture, then draw again")
    if not packets:  # for example udp.pcap after a TCP-only run
        return None
    packets = datagrams(packets) if protocol == "udp" else packets
    text, mermaid, again, connections = ladder(protocol, packets)
    summary = tally(protocol, packets, again, connections)
    print("\n".join(text) + "\n")
    (FOLDER / f"{protocol}.md").write_text(
        f"# {protocol.upper()}: the last run in {SHOWN}/{protocol}.pcap\n\n"
        "```mermaid\n" + "\n".join(mermaid) + "\n```\n\n" + summary + "\n")
    return summary


if __name__ == "__main__":
    # Write as the owner of the captures folder, like the capture itself.
    if os.getuid() == 0:
        owner = FOLDER.stat()
        os.setgroups([])
        os.setgid(owner.st_gid)
        os.setuid(owner.st_uid)
    if not any((FOLDER / f"{p}.pcap").exists() for p in ("tcp", "udp")):
        fail(f"no capture in {SHOWN}: run the lab with it first: {CAPTURE}")
    tallies = {p: draw(p) for p in ("tcp", "udp")}
    tallies = {p: line for p, line in tallies.items() if line}
    if not tallies:
        fail(f"no packets of the lab in {SHOWN}: run it again: {CAPTURE}")
    print("\n".join(tallies.values()))
    print("Diagrams: " + ", ".join(f"{SHOWN}/{p}.md" for p in tallies))
