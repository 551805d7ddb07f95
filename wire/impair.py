#!/usr/bin/env python3
"""Impair one server's network: lose, delay, reorder and copy its packets.

    impair.py PROTOCOL PORT    (for example: impair.py tcp 10000)
    impair.py check            (only check the settings)

It runs in the server's network namespace (wire/impair.yml). Rules there hand
every packet to and from PORT to this program (iptables' NFQUEUE target), which
gives each its fate: lost (a drop verdict: the sender learns nothing, as on a
real wire), or let on (accept) at once or later. Packets are held on their way
in to the server only: a delay there adds one round trip to each exchange.
A rule of nftables copies some arriving packets: the network's duplicates.
Each packet's fate goes, one JSON line each, to /captures/PROTOCOL-impair.jsonl
for draw.py, and each one changed is printed.
"""
import heapq
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time
from typing import NamedTuple

import dpkt  # from PyPI: decodes the packets, to print them
from netfilterqueue import NetfilterQueue  # from PyPI: the kernel's queue

RANGES = {  # each setting: its lowest and highest value; unset is off
    "LOSS_PERCENT": (0, 100), "LOSS_EVERY": (1, 100),
    "DELAY_MS": (0, 10000), "JITTER_MS": (0, 10000),
    "REORDER_PERCENT": (0, 100), "REORDER_EVERY": (1, 100),
    "DUPLICATE_PERCENT": (0, 100), "DUPLICATE_EVERY": (1, 100),
}
OVERTAKERS = 3  # packets that pass one held back...
HOLD_BACK = 0.1  # ...or the seconds it waits for them, if fewer come
READY_PORT = 9001  # answers once the rules are in: the clients wait for it


class Settings(NamedTuple):  # the fields in the order of RANGES
    loss_percent: int
    loss_every: int
    delay_ms: int
    jitter_ms: int
    reorder_percent: int
    reorder_every: int
    duplicate_percent: int
    duplicate_every: int


class Fate(NamedTuple):
    """One line of the record: what became of one packet."""
    time: float  # when it came here (time.time(), the capture's clock)
    way: str  # "in" to the server, or "out"
    copy: bool  # the network's copy, not its sender's packet
    lost: bool
    held: float  # seconds held before it went on
    packet: str  # its bytes, from the IP header on, in hex


class Held(NamedTuple):
    """A packet on its way in, until it is let on."""
    due: float  # when to let it on (time.monotonic())
    number: int  # arrival order
    packet: object  # NetfilterQueue's Packet
    arrived: float  # time.time(), the capture's clock
    copy: bool  # the network's copy, not the sender's packet
    held_back: bool  # waits for OVERTAKERS later packets to pass
    meant: float  # seconds it is to be held (0: none, let on at once)


def read_settings(environ) -> Settings:
    """The settings from the environment, or exit with one line."""
    values = []
    for name, (low, high) in RANGES.items():
        text = environ.get(name, "")
        if text and not (text.isascii() and text.isdigit()
                         and low <= int(text) <= high):
            sys.exit(f"Error: {name} must be a whole number from {low} "
                     f"to {high}, not '{text}'")
        values.append(int(text or 0))
    return Settings(*values)


def chosen(every, percent, count):
    """Is packet number `count` (0, 1, ...) chosen? Every Nth, the same in
    every run, or with a chance in percent, different each time."""
    return count % every == 0 if every else random.randrange(100) < percent


def describe(settings: Settings) -> str:
    s, parts = settings, []
    if s.loss_every or s.loss_percent:
        parts.append(f"losing 1 in {s.loss_every}" if s.loss_every
                     else f"losing {s.loss_percent} %")
    if s.delay_ms or s.jitter_ms:
        parts.append(f"delay {s.delay_ms} ms"
                     + (f" + up to {s.jitter_ms} ms" if s.jitter_ms else ""))
    if s.reorder_every or s.reorder_percent:
        parts.append(f"holding back 1 in {s.reorder_every}" if s.reorder_every
                     else f"holding back {s.reorder_percent} %")
    if s.duplicate_every or s.duplicate_percent:
        parts.append(f"copying 1 in {s.duplicate_every}" if s.duplicate_every
                     else f"copying {s.duplicate_percent} %")
    return ", ".join(parts) or "nothing: a perfect network"


def install_rules(protocol, port, settings: Settings):
    """Hand the port's packets to queue 0, both ways; copy some arriving
    ones. Each ruleset replaces the one before it, so a restart does not
    add a second set. --queue-bypass: while no program reads the queue (this
    one died, say), packets pass untouched."""
    queue = "-j NFQUEUE --queue-num 0 --queue-bypass"
    subprocess.run(["iptables-restore"], check=True, text=True, input=(
        "*filter\n"
        f"-A INPUT -p {protocol} --dport {port} {queue}\n"
        f"-A OUTPUT -p {protocol} --sport {port} {queue}\n"
        "COMMIT\n"))
    s = settings
    pick = (f"numgen inc mod {s.duplicate_every} == 0" if s.duplicate_every
            else f"numgen random mod 100 < {s.duplicate_percent}")
    # The copy comes in again through the loopback interface ("lo"): not
    # copied again, it is the packet's one twin.
    copy = (f'iif != "lo" {protocol} dport {port} {pick} dup to ip daddr'
            if s.duplicate_every or s.duplicate_percent else "")
    subprocess.run(["nft", "-f", "-"], check=True, text=True, input=(
        "table ip socket_lab_copies\n"
        "delete table ip socket_lab_copies\n"
        "table ip socket_lab_copies {\n"
        f"    chain copy {{ type filter hook prerouting priority 0; {copy}; }}\n"
        "}\n"))


def packet_line(payload: bytes) -> str:
    """One packet in a few words: TCP 172.26.0.4:59890 > 172.26.0.2:10000 SYN"""
    ip = dpkt.ip.IP(payload)
    src, dst = dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst)
    layer = ip.data
    words = f"{ip.get_proto(ip.p).__name__} {src}:{layer.sport} > {dst}:{layer.dport}"
    if isinstance(layer, dpkt.tcp.TCP):
        flags = [name for bit, name in ((dpkt.tcp.TH_SYN, "SYN"),
                 (dpkt.tcp.TH_FIN, "FIN"), (dpkt.tcp.TH_RST, "RST"),
                 (dpkt.tcp.TH_ACK, "ACK")) if layer.flags & bit]
        words += " " + " ".join(flags)
    return f"{words}, {len(layer.data)} bytes"


class Wire:
    """The packets held on their way in, and the counts that choose each
    packet's fate."""

    def __init__(self, settings: Settings):
        self.settings, self.held, self.record = settings, [], None
        self.count = {"lost": 0, "in": 0}
        self.overtaken = {}  # held-back packet's number: how many passed it
        self.loopback = socket.if_nametoindex("lo")

    def write(self, fate: Fate):
        self.record.write(json.dumps(fate._asdict()) + "\n")
        self.record.flush()

    def arrive(self, packet):
        """Called by the queue for each packet, in the order they come."""
        s, now, payload = self.settings, time.time(), packet.get_payload()
        inbound = packet.hook == 1  # NF_INET_LOCAL_IN; else LOCAL_OUT
        way = "in" if inbound else "out"
        copy = inbound and packet.indev == self.loopback
        self.count["lost"] += 1  # both ways take turns, as on one wire
        if chosen(s.loss_every, s.loss_percent, self.count["lost"] - 1):
            packet.drop()
            self.write(Fate(now, way, copy, True, 0, payload.hex()))
            print("lost:", packet_line(payload), flush=True)
        elif not inbound:
            packet.accept()
            self.write(Fate(now, way, False, False, 0, payload.hex()))
        else:
            if copy:
                print("copied by the network:", packet_line(payload), flush=True)
            self.count["in"] += 1
            back = chosen(s.reorder_every, s.reorder_percent, self.count["in"] - 1)
            wait = (s.delay_ms + random.uniform(0, s.jitter_ms)) / 1000
            start = time.monotonic()
            due = start + wait + (HOLD_BACK if back else 0)
            if not back:  # first in, first out: jitter alone reorders nothing
                due = max([due] + [h.due for h in self.held if not h.held_back])
            packet.retain()  # keep its bytes after this call returns
            heapq.heappush(self.held, Held(due, self.count["in"], packet, now,
                                           copy, back, due - start))

    def due_in(self):
        """Seconds until the next held packet is due; None if none is held."""
        return max(0.0, self.held[0].due - time.monotonic()) if self.held else None

    def let_on_due(self):
        """Let on each packet whose time has come; after each, any held-back
        one that OVERTAKERS packets have now passed."""
        while self.held and self.held[0].due <= time.monotonic():
            h = heapq.heappop(self.held)
            self.let_on(h)
            if h.held_back:
                continue
            behind = [o for o in self.held if o.held_back and o.number < h.number]
            for other in behind:
                self.overtaken[other.number] = self.overtaken.get(other.number, 0) + 1
                if self.overtaken[other.number] >= OVERTAKERS:
                    self.held.remove(other)
                    heapq.heapify(self.held)
                    self.let_on(other)

    def let_on(self, h: Held):
        """Let a packet on; record how long it was held, if it was meant to be
        (not the moment this program takes for every packet)."""
        h.packet.accept()
        held_for = time.time() - h.arrived if h.meant > 0 else 0.0
        payload = h.packet.get_payload()
        self.write(Fate(h.arrived, "in", h.copy, False, round(held_for, 6),
                        payload.hex()))
        if h.held_back:
            print(f"held back {held_for:.2f} s, overtaken by "
                  f"{self.overtaken.pop(h.number, 0)}:", packet_line(payload),
                  flush=True)


def main(argv):
    settings = read_settings(os.environ)
    if argv[1:] == ["check"]:
        return
    protocol, port = argv[1], int(argv[2])
    for stop in (signal.SIGTERM, signal.SIGINT):  # docker stop, or Ctrl-C
        signal.signal(stop, lambda *_: sys.exit(0))
    wire, queue = Wire(settings), NetfilterQueue()
    try:
        install_rules(protocol, port, settings)
        queue.bind(0, wire.arrive)
        door = socket.create_server(("", READY_PORT))
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"Error: cannot impair {protocol} port {port}: {error}")
    # The record belongs to the owner of /captures, like the capture: a
    # child running as that user writes it. This program stays root, as
    # each verdict on a packet needs NET_ADMIN.
    owner = os.stat("/captures")
    writer = subprocess.Popen(
        ["setpriv", f"--reuid={owner.st_uid}", f"--regid={owner.st_gid}",
         "--clear-groups", "sh", "-c", 'exec cat > "$0"',
         f"/captures/{protocol}-impair.jsonl"], stdin=subprocess.PIPE, text=True)
    with writer.stdin as wire.record:
        print(f"Impairing {protocol} port {port}: {describe(settings)}", flush=True)
        while True:
            ready, _, _ = select.select([queue.get_fd(), door], [], [], wire.due_in())
            if door in ready:
                door.accept()[0].close()  # a knock: the clients may start
            if queue.get_fd() in ready:
                queue.run(block=False)
            wire.let_on_due()


if __name__ == "__main__":
    main(sys.argv)
