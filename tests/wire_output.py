"""What the wire's tools print and write, read back as records: tcpdump's lines, impair.py's
`lost:` lines and settings, draw.py's ladders (as text and as Mermaid), Wireshark's filters.
"""
import re
import shutil
import subprocess
from typing import NamedTuple

from handout import WIRE

LAB_PORTS = ("10000", "10001")
IMPAIRMENTS = ("LOSS_PERCENT", "LOSS_EVERY", "DELAY_MS", "JITTER_MS", "REORDER_PERCENT", "REORDER_EVERY",
               "DUPLICATE_PERCENT", "DUPLICATE_EVERY")


class Packet(NamedTuple):
    """What a reader compares in one of tcpdump's lines (times, addresses and ports aside)."""
    direction: str  # "to server" or "to client"
    flags: str      # TCP's flags ("S", "S.", "P.", ...), or "UDP"
    seq: str        # "1:92", or None
    length: int


class Lost(NamedTuple):
    """One of impair.py's `lost:` lines."""
    direction: str
    flags: str
    length: int


def impaired(**settings):
    """wire/impair.yml's settings, as a student sets them: these, and none of the others."""
    chosen = {name.upper(): str(value) for name, value in settings.items()}
    return {**dict.fromkeys(IMPAIRMENTS, ""), **chosen}


def packet(line):
    found = re.fullmatch(r"\s*(?:\d+ )?[\d:.]+ IP [\d.]+\.\d+ > [\d.]+\.(\d+): (.*)", line)
    if not found:
        raise AssertionError(f"not a packet of tcpdump's: {line!r}")
    port, rest = found.groups()
    flags = re.match(r"Flags \[([^\]]*)\]", rest)
    seq = re.search(r"seq (\d+:\d+)", rest)
    return Packet("to server" if port in LAB_PORTS else "to client",
                  flags.group(1) if flags else rest.split(",")[0], seq and seq.group(1),
                  int(re.search(r"length (\d+)$", rest).group(1)))


LOST = re.compile(r"^lost: (?:TCP|UDP) \S+:(\d+) > \S+:\d+(?: ([A-Z ]+))?, (\d+) bytes$")


def lost(line):
    sport, flags, length = LOST.fullmatch(line).groups()
    return Lost("to client" if sport in LAB_PORTS else "to server", flags or "", int(length))


def the_teardown_is_over(live_view):
    """In tcp-capture's output: the server's FIN, then the client's answer to it; or the
    server's FIN twice, when nobody answers (the LOSS_EVERY=4 run of wire/README.md)."""
    fins = [n for n, line in enumerate(live_view) if "Flags [F" in line and ".10000 > " in line]
    return len(fins) >= 2 or (bool(fins) and any(".10000: " in line for line in live_view[fins[0] + 1:]))


ARROW = re.compile(r"^    ([CS])(--?x|--?>>)[CS]: [\d.]+ s, (.*)$")


def arrows(diagram):
    """Each arrow of a drawn Mermaid ladder as (sender, label, lost), times aside."""
    found = []
    for line in diagram.splitlines():
        match = ARROW.match(line)
        if match:
            sender, kind, label = match.groups()
            label = re.sub(r"after [\d.]+ s", "after", label.replace(" (lost)", ""))
            found.append((sender, label, kind.endswith("x")))
    return found


LADDER_ARROW = re.compile(r"^ *\d+\.\d+ \|(?:-- (.*?) -*(?:>|X +)|(?:<| +X)-* (.*?) --)\|$")


def ladder_arrows(lines):
    """Each arrow of a printed ladder as (sender, words), times aside; a label's second line
    joined to its first."""
    found = []
    for line in lines:
        match = LADDER_ARROW.match(line)
        if match:
            rightwards, leftwards = match.groups()
            found.append(["C" if rightwards is not None else "S", rightwards or leftwards])
        elif found and re.match(r"^ {8}\|   \S", line):
            found[-1][1] += " " + line.strip("| ").strip()
    return [(sender, re.sub(r"(after|held) [\d.]+ s", r"\1", words)) for sender, words in found]


TEXT_ARROW = re.compile(r"^ *\d+\.\d{3} (\|.*\|)$")


def text_arrows(lines):
    """Each arrow of the printed ladder as (sender, lost): `|-- ...>|` from the client,
    `|<... --|` from the server, an X where a lost one stops."""
    return [("C" if match.group(1).startswith("|--") else "S", "X" in match.group(1))
            for match in map(TEXT_ARROW.match, lines) if match]


def wireshark(test, pcap, display_filter):
    """Apply one of the handout's display filters with Wireshark's own tshark: for each
    packet it selects, (number, source port, TCP length, seconds since the first packet).
    A filter that Wireshark rejects fails the test."""
    test.assertIn(f"`{display_filter}`", WIRE)  # the handout's words, not the test's
    done = subprocess.run(["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields",
                           "-e", "frame.number", "-e", "udp.srcport", "-e", "tcp.srcport", "-e", "tcp.len",
                           "-e", "frame.time_relative"], capture_output=True, encoding="utf-8", timeout=60)
    test.assertEqual(done.returncode, 0, done.stderr)
    return [(int(number), int(udp or tcp or 0), int(length or 0), float(seconds))
            for number, udp, tcp, length, seconds in (line.split("\t") for line in done.stdout.splitlines())]


def tshark_or_skip(test):
    """The last step of a test, its checks with Wireshark's filters: where tshark is missing,
    the test ends here as skipped, every check before it done (unittest and pytest alike)."""
    if not shutil.which("tshark"):
        test.skipTest("tshark is not installed (Debian: apt install tshark): Wireshark's filters unchecked")
