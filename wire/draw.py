#!/usr/bin/env python3
"""Draw the lab's last recorded run as ladder diagrams, one per protocol.

    draw.py [FOLDER]    (default /captures, the lab's wire/captures)

Reads what each server's network interface saw (tcp.pcap, udp.pcap) and,
after a run on the impaired network, each packet's fate there (tcp-impair.jsonl,
udp-impair.jsonl): lost, held, copied. Prints each ladder as text, one arrow
per packet, and writes it as a Mermaid diagram into tcp.md and udp.md beside
the captures.

A pipeline of small stages: read the records, merge them into one list of
packets, label each packet as one Arrow, then render the Arrows twice, as
text and as Mermaid, and count them in a tally line.
"""
import json
import os
import statistics
import sys
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import dpkt  # from PyPI, in the wire image: reads pcap files, decodes packets

SHOWN = "wire/captures"  # what the folder is called in the student's clone
CAPTURE = "docker compose -f docker-compose.yml -f wire/capture.yml up --build"
SERVER_PORTS = {"tcp": 10000, "udp": 10001}  # the lab's, docker-compose.yml
LEFT, RIGHT = 8, 78  # the columns of the two hosts in the text ladder
WIDEST = RIGHT - LEFT - 12  # the longest words on one arrow of the ladder
SYN, FIN, RST, ACK = (dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST,
                      dpkt.tcp.TH_ACK)
RAW_IP = (dpkt.pcap.DLT_RAW, 228, 12)  # link types of bare IPv4 packets
HELD = 0.005  # seconds: a packet held this long or longer says so


class Bad(Exception):
    """A record that cannot be drawn: the one line that says why."""


class Event(NamedTuple):
    """One line of impair.py's record: a packet and its fate."""
    time: float  # when it came to impair.py, on the capture's clock
    inbound: bool  # on its way in to the server
    copy: bool  # the network's copy of a packet, not its sender's
    lost: bool
    held: float  # seconds it was held before going on
    ip: dpkt.ip.IP


class Packet(NamedTuple):
    time: float
    ip: dpkt.ip.IP
    lost: bool = False
    fragments: int = 1  # IP fragments of a UDP datagram
    held: float = 0.0  # seconds the network held it
    copy: bool = False  # the network's copy
    overtaken: int = 0  # packets sent after it that arrived before it


class Connection(NamedTuple):
    number: int  # 1, 2, ...: in the order they began
    client: tuple  # (address, port) of each end
    server: tuple


class Arrow(NamedTuple):
    """One packet as drawn: what both renderings and the tally use."""
    time: float  # seconds since the first packet drawn
    connection: Connection
    rightwards: bool  # from the client to the server
    words: str  # what it carries
    lost: bool
    again_after: Optional[float]  # a copy of what its sender sent before
    held: float = 0.0  # seconds the network held it
    copy: bool = False  # the network's copy
    overtaken: int = 0  # packets sent after it that arrived before it
    size: int = 0  # bytes of data it carries


# Stage 1: read the records.

def read(path: Path) -> Optional[List[Tuple[float, dpkt.ip.IP]]]:
    """The IPv4 packets of one pcap file, with their times; None if no file.
    The link type comes from the file: Ethernet frames, or bare IPv4."""
    if not path.exists():
        return None
    if path.stat().st_size == 0:
        raise Bad(f"{SHOWN}/{path.name} is empty: the capture never started; "
                  f"run it again: {CAPTURE}")
    packets = []
    try:
        with open(path, "rb") as file:
            reader = dpkt.pcap.Reader(file)
            raw = reader.datalink() in RAW_IP
            for time, frame in reader:
                ip = dpkt.ip.IP(frame) if raw else dpkt.ethernet.Ethernet(
                    frame).data
                if not isinstance(ip, dpkt.ip.IP):
                    continue
                if len(ip) < ip.len:  # the file ends inside this packet
                    raise dpkt.NeedData
                packets.append((time, ip))
    except (ValueError, dpkt.UnpackError):
        raise Bad(f"{SHOWN}/{path.name} is cut short, or is no capture; "
                  f"run the lab again: {CAPTURE}") from None
    return packets


def read_record(path: Path) -> List[Event]:
    """impair.py's record: one JSON line per packet; none if no file."""
    if not path.exists():
        return []
    try:
        return [Event(line["time"], line["way"] == "in", line["copy"],
                      line["lost"], line["held"],
                      dpkt.ip.IP(bytes.fromhex(line["packet"])))
                for line in map(json.loads, path.read_text().splitlines())]
    except (ValueError, KeyError, TypeError, dpkt.UnpackError):
        raise Bad(f"{SHOWN}/{path.name} is cut short, or is no record of "
                  "impair.py; run the lab again") from None


def ends(ip):
    """The two (address, port) ends of a packet; a later fragment has none."""
    src, dst = dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst)
    if isinstance(ip.data, (dpkt.tcp.TCP, dpkt.udp.UDP)):
        return (src, ip.data.sport), (dst, ip.data.dport)
    return (src, None), (dst, None)


# Stage 2: merge them into one list of packets.

def merge(captured, events: List[Event], port) -> Optional[List[Packet]]:
    """One list of packets in time order; None if the record is from a
    later run than the capture.

    Without a record, the capture's packets. With one, the packets coming in
    to the server are the record's: impair.py saw each one as the server got
    it (the capture saw them before any hold, and a large TCP send as one
    piece), with the network's copies and how long each was held. The
    packets going out are the capture's, and the record's lost ones, which
    never reached the capture. A record of connections the capture never
    saw is another run's: a later one is refused, an earlier one left out."""
    packets = [Packet(t, ip) for t, ip in captured]
    flows = {frozenset(ends(p.ip)) for p in packets}
    ours = [e for e in events if frozenset(ends(e.ip)) in flows]
    if packets and events and not ours:
        return None if events[0].time > packets[-1].time else packets
    recorded = {frozenset(ends(e.ip)) for e in ours if e.inbound}
    ours = [e._replace(time=captured_time(e, packets)) for e in ours]
    packets = [p for p in packets if not (
        ends(p.ip)[1][1] == port and frozenset(ends(p.ip)) in recorded)]
    arrivals = [e for e in ours if e.inbound and not e.lost]
    for e in ours:
        if e.inbound or e.lost:
            overtaken = sum(1 for a in arrivals if a.time > e.time
                            and a.time + a.held < e.time + e.held)
            packets.append(Packet(e.time, e.ip, lost=e.lost, held=e.held,
                                  copy=e.copy,
                                  overtaken=0 if e.lost else overtaken))
    return sorted(packets, key=lambda p: p.time)


def captured_time(event: Event, packets: List[Packet]) -> float:
    """When the capture saw the packet of a record's event: the nearest time,
    within a few milliseconds, of a captured packet with the same bytes.
    (impair.py sees a packet a moment after tcpdump does, and a datagram's
    first fragment after the others.)"""
    same = [p.time for p in packets if abs(p.time - event.time) < 0.005
            and bytes(p.ip) == bytes(event.ip)]
    return min(same, key=lambda t: abs(t - event.time), default=event.time)


def datagrams(packets: List[Packet]) -> List[Packet]:
    """Join IP fragments: one packet per datagram, with its fragment count."""
    joined, first = [], {}
    for p in packets:
        key = (p.ip.src, p.ip.dst, p.ip.id)
        if p.ip.offset and key in first:  # a later fragment
            n = first[key]
            joined[n] = joined[n]._replace(fragments=joined[n].fragments + 1,
                                           lost=joined[n].lost or p.lost)
            continue
        first[key] = len(joined)
        joined.append(p)
    return joined


# Stage 3: label each packet as one Arrow.

def connections(protocol, packets):
    """Each packet with its connection (TCP) or client (UDP). The client is
    the end that does not own the lab's server port, whoever spoke first; a
    SYN with a new first sequence number on a port used before begins a new
    connection."""
    port, found, current, isn = SERVER_PORTS[protocol], [], {}, {}
    count = 0
    for p in packets:
        here, there = ends(p.ip)
        client, server = (there, here) if here[1] == port else (here, there)
        tcp = p.ip.data if protocol == "tcp" else None
        opening = tcp is not None and tcp.flags & SYN and not tcp.flags & ACK
        if client not in current or (opening and isn.get(client) != tcp.seq):
            count += 1
            current[client] = Connection(count, client, server)
        if opening:
            isn[client] = tcp.seq
        found.append((p, current[client]))
    return found


def label_tcp(p, sender, seen):
    """SYN, SYN-ACK, data with its byte numbers, FIN, RST, or ACK n (a
    duplicate ACK, and SACK blocks: bytes the receiver has beyond n); and
    when the sender sent any of these sequence numbers before. The
    network's copy of a segment is not its sender's sending again."""
    tcp, receiver = p.ip.data, ends(p.ip)[1]
    base = seen.setdefault(sender, tcp.seq - (0 if tcp.flags & SYN else 1))
    peer = seen.get(receiver, tcp.ack - 1)
    start = (tcp.seq - base) % 2**32  # byte numbers count from 1, as Wireshark
    words = []
    if tcp.flags & SYN:
        words.append("SYN-ACK" if tcp.flags & ACK else "SYN")
    if tcp.data:
        words.append(f"data, bytes {start}-{start + len(tcp.data) - 1}")
    if tcp.flags & FIN:
        words.append("FIN")
    if tcp.flags & RST:
        words.append("RST")
    acked = (tcp.ack - peer) % 2**32
    if not words:
        again = seen.get((sender, "acked")) == acked and not p.copy
        words.append(f"{'duplicate ' if again else ''}ACK {acked}")
        seen[(sender, "acked")] = acked
    for kind, edges in dpkt.tcp.parse_opts(tcp.opts):
        if kind == dpkt.tcp.TCP_OPT_SACK:  # (first, after last) pairs
            for n in range(0, len(edges) - 7, 8):
                low, high = (int.from_bytes(edges[n + i:n + i + 4], "big")
                             for i in (0, 4))
                low, high = (low - peer) % 2**32, (high - peer) % 2**32 - 1
                span = f"{low}" if low == high else f"{low}-{high}"
                words.append(f"{'D-SACK' if high < acked else 'SACK'} {span}")
    # The sequence numbers this segment takes: a copy of any of them is a
    # segment sent again, by the sender's kernel.
    end = start + len(tcp.data) + bool(tcp.flags & SYN) + bool(tcp.flags & FIN)
    sent = seen.setdefault((sender, "sent"), [])
    earlier = [t for first, last, t in sent if max(first, start) < min(last, end)]
    if not p.copy:
        sent.append((start, end, p.time))
    return ", ".join(words), None if p.copy else min(earlier, default=None)


def label_udp(p, sender, seen, from_client):
    """The datagram's size and fragments. A copy from the client is one its
    program sent again; the server's copies answer the client's copies."""
    size = p.ip.data.ulen - 8 if isinstance(p.ip.data, dpkt.udp.UDP) else 0
    words = f"datagram, {size} bytes"
    if p.fragments > 1:
        words += f", {p.fragments} fragments"
    key = (sender, bytes(getattr(p.ip.data, "data", p.ip.data)))
    earlier = seen.get(key) if from_client and not p.copy else None
    seen.setdefault(key, p.time)
    return words, earlier


def arrows(protocol, packets: List[Packet]) -> List[Arrow]:
    """Every packet as an Arrow: one connection (or UDP client) after
    another, each in time order."""
    labelled, seen = [], {}
    for p, connection in connections(protocol, packets):
        sender = ends(p.ip)[0]
        rightwards = sender == connection.client
        remembered = seen.setdefault(connection, {})
        if protocol == "tcp":
            words, first = label_tcp(p, sender, remembered)
        else:
            words, first = label_udp(p, sender, remembered, rightwards)
        again = None if first is None else p.time - first
        labelled.append(Arrow(p.time - packets[0].time, connection,
                              rightwards, words, p.lost, again, p.held,
                              p.copy, p.overtaken, payload_size(p)))
    return sorted(labelled, key=lambda a: a.connection.number)


def payload_size(p: Packet) -> int:
    """The bytes a TCP segment or a UDP datagram carries."""
    if isinstance(p.ip.data, dpkt.tcp.TCP):
        return len(p.ip.data.data)
    return p.ip.data.ulen - 8 if isinstance(p.ip.data, dpkt.udp.UDP) else 0


def words_of(arrow: Arrow) -> str:
    """What an arrow says: what it carries, then what befell it."""
    words = [arrow.words]
    if arrow.copy:
        words.append("the network's copy")
    if arrow.held >= HELD:
        words.append(f"held {arrow.held:.2f} s")
    if arrow.overtaken:
        words.append(f"overtaken by {arrow.overtaken}")
    if arrow.again_after is not None:
        words.append(f"sent again after {arrow.again_after:.2f} s")
    return ", ".join(words)


# Stage 4: render the Arrows, as text and as Mermaid, and count them.

def title(protocol, connection):
    (a, p), (b, q) = connection.client, connection.server
    kind = "connection" if protocol == "tcp" else "client"
    return f"{kind} {connection.number}: {a}:{p} to {b}:{q}"


def text_ladder(protocol, drawn: List[Arrow]) -> List[str]:
    """The ladder in 79 columns: time going down, client on the left."""
    client, server = f"{protocol}-client", f"{protocol}-server"
    lines = [f"{'seconds':>7} {client}{server:>{RIGHT - LEFT + 1 - len(client)}}"]
    heading = None
    for arrow in drawn:
        if arrow.connection != heading:
            heading = arrow.connection
            lines.append(f"{'':8}{' ' + title(protocol, heading) + ' ':-^{RIGHT - LEFT + 1}}")
        seconds = f"{arrow.time:7.3f}" if arrow.time < 1000 else f"{arrow.time:7.1f}"
        first, *rest = wrapped(words_of(arrow))
        lines.append(f"{seconds} " + line(first, arrow.rightwards, arrow.lost))
        lines += [f"{'':8}|   {more:<{RIGHT - LEFT - 4}}|" for more in rest]
    return lines


def wrapped(words: str) -> List[str]:
    """Words cut at their commas into pieces that fit on one arrow."""
    pieces = [words]
    while len(pieces[-1]) > WIDEST and ", " in pieces[-1][:WIDEST + 1]:
        cut = pieces[-1][:WIDEST + 1].rindex(", ")
        pieces[-1:] = [pieces[-1][:cut + 1], pieces[-1][cut + 2:]]
    return pieces


def line(words, rightwards, lost):
    """|-- words ---->|, or |<---- words --|; a lost one stops at an X."""
    inner = RIGHT - LEFT - 1
    words = f" {words} "
    dashes = "-" * (inner - len(words) - 3)
    if lost:
        dashes = dashes[:-5] + "X" + " " * 5 if rightwards else " " * 5 + "X" + dashes[:-5]
        return f"|--{words}{dashes}|" if rightwards else f"|{dashes}{words}--|"
    return f"|--{words}{dashes}>|" if rightwards else f"|<{dashes}{words}--|"


def mermaid(protocol, drawn: List[Arrow]) -> List[str]:
    """The same ladder as a Mermaid sequence diagram."""
    lines = ["sequenceDiagram", f"    participant C as {protocol}-client",
             f"    participant S as {protocol}-server"]
    heading = None
    for arrow in drawn:
        if arrow.connection != heading:
            heading = arrow.connection
            lines.append(f"    Note over C,S: {title(protocol, heading)}")
        sender, receiver = ("C", "S") if arrow.rightwards else ("S", "C")
        # -x lost, -->> (dotted) the network's copy, ->> any other packet
        shape = ("--" if arrow.copy else "-") + ("x" if arrow.lost else ">>")
        lines.append(f"    {sender}{shape}{receiver}: {arrow.time:.3f} s, "
                     f"{words_of(arrow)}{' (lost)' if arrow.lost else ''}")
    return lines


def tally(protocol, drawn: List[Arrow]) -> str:
    """Lines that count what the ladder shows, each within 79 columns: the
    packets; what the network did to them, if anything; after a delay, the
    round trips the first exchange took."""
    lost = sum(a.lost for a in drawn) or "none"
    again = [a for a in drawn if a.again_after is not None]
    count = len({a.connection for a in drawn})
    if protocol == "tcp":
        line_ = (f"TCP: {len(drawn)} packets"
                 + (f" in {count} connections" if count > 1 else "")
                 + f", {lost} lost, {len(again) or 'none'} sent again by the "
                 "kernels")
    else:
        line_ = f"UDP: {len(drawn)} datagrams, {lost} lost"
        if again:
            line_ += (f", sent again by the client after {again[0].again_after:.2f} s"
                      if len(again) == 1 else
                      f", sent again by the client {len(again)} times")
        elif lost != "none":
            line_ += ", never sent again"
    lines = [line_]
    copies = sum(a.copy for a in drawn)
    overtaken = sum(bool(a.overtaken) for a in drawn)
    network = ([f"{copies} {'copy' if copies == 1 else 'copies'} by the network"] if copies else []) \
        + ([f"{overtaken} overtaken"] if overtaken else [])
    if network:
        lines.append(f"{protocol.upper()}: " + ", ".join(network))
    trips = round_trips(protocol, drawn)
    return "\n".join(lines + ([trips] if trips else []))


def round_trips(protocol, drawn: List[Arrow]) -> Optional[str]:
    """How many round trips the first exchange took, counted in its arrows:
    the client's flights of packets (those sent together, within half a
    round trip of the first) until the echo's last byte left the server.
    The round trip is the median time the network held the clients'
    packets. None without a delay (that median below HELD seconds)."""
    holds = [a.held for a in drawn if a.rightwards and not a.lost]
    first = [a for a in drawn if a.connection.number == 1]
    echo = [a for a in first if not a.rightwards and a.size and not a.lost
            and a.again_after is None and not a.copy]
    if not holds or not echo or statistics.median(holds) < HELD:
        return None
    trip = statistics.median(holds)
    last = echo[-1].time if protocol == "tcp" else echo[0].time
    flights = []
    for a in first:
        if a.rightwards and not a.copy and a.time < last:
            if not flights or a.time >= flights[-1][0].time + trip / 2:
                flights.append([])
            flights[-1].append(a)
    names = []
    for flight in flights:
        words = " ".join(a.words for a in flight)
        names.append("handshake" if "SYN" in words else
                     "sent again" if any(a.again_after is not None for a in flight) else
                     "message" if any(a.size for a in flight) else
                     "Nagle's wait")
    size = sum(a.size for a in echo) if protocol == "tcp" else echo[0].size
    n = len(flights)
    return (f"{protocol.upper()}: {n} round trip{'s' if n > 1 else ''} of "
            f"{trip:.2f} s for {size} bytes"
            + (f": {', '.join(names)}" if protocol == "tcp" else ""))


# The stages, one protocol at a time.

def draw(folder: Path, protocol):
    """Draw one protocol's ladder; return (text lines, Markdown, tally), or
    None when it has nothing to draw."""
    captured = read(folder / f"{protocol}.pcap")
    if captured is None:
        return None
    record = read_record(folder / f"{protocol}-impair.jsonl")
    packets = merge(captured, record, SERVER_PORTS[protocol])
    if packets is None:
        raise Bad(f"{SHOWN}/{protocol}.pcap is older than {protocol}-impair.jsonl: "
                  "run the impaired network with the capture, then draw again")
    if not packets:  # for example udp.pcap after a TCP-only run
        return None
    drawn = arrows(protocol, datagrams(packets) if protocol == "udp" else packets)
    summary = tally(protocol, drawn)
    markdown = (f"# {protocol.upper()}: the last run in {SHOWN}/{protocol}.pcap\n\n"
                "```mermaid\n" + "\n".join(mermaid(protocol, drawn)) + "\n```\n\n"
                + summary + "\n")
    return text_ladder(protocol, drawn), markdown, summary


def main(folder: Path):
    if not any((folder / f"{p}.pcap").exists() for p in ("tcp", "udp")):
        raise Bad(f"no capture in {SHOWN}: run the lab with it first: {CAPTURE}")
    tallies = {}
    for protocol in ("tcp", "udp"):
        done = draw(folder, protocol)
        if done:
            text, markdown, tallies[protocol] = done
            print("\n".join(text) + "\n")
            (folder / f"{protocol}.md").write_text(markdown)
    if not tallies:
        raise Bad(f"no packets of the lab in {SHOWN}: run it again: {CAPTURE}")
    print("\n".join(tallies.values()))
    print("Diagrams: " + ", ".join(f"{SHOWN}/{p}.md" for p in tallies))


if __name__ == "__main__":
    FOLDER = Path(sys.argv[1] if len(sys.argv) > 1 else "/captures")
    # Write as the owner of the captures folder, like the capture itself.
    if os.getuid() == 0:
        owner = FOLDER.stat()
        os.setgroups([])
        os.setgid(owner.st_gid)
        os.setuid(owner.st_uid)
    try:
        main(FOLDER)
    except Bad as error:
        sys.exit(f"Error: {error}")
