"""wire/draw.py's stages, on packets built in memory with dpkt: no Docker, no network.

dpkt is the one library these need, as draw.py does in the wire image: where it is not
installed they skip, saying so (`pip install dpkt==1.9.8`, or CI's .ci/venv, runs them).
"""
import importlib.util
import json
import re
import socket
import tempfile
import unittest
from pathlib import Path

from support import ROOT

try:
    import dpkt
except ImportError:
    dpkt = None

CLIENT, SERVER = ("192.0.2.4", 33322), ("192.0.2.3", 10000)
UDP_CLIENT, UDP_SERVER = ("192.0.2.5", 60182), ("192.0.2.2", 10001)
TEXT_ARROW = re.compile(r"^ *\d+\.\d+ (\|.*\|)$")


def setUpModule():
    if dpkt is None:
        raise unittest.SkipTest("dpkt is not installed (pip install dpkt==1.9.8): draw.py's stages unchecked")
    global draw  # noqa: PLW0603  # the module under test, loaded from its file in wire/
    spec = importlib.util.spec_from_file_location("draw", ROOT / "wire" / "draw.py")
    draw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(draw)


def ip(src, dst, payload, **fields):
    """An IPv4 packet from (address, port) src to dst around a TCP or UDP payload."""
    payload.sport, payload.dport = src[1], dst[1]
    if isinstance(payload, dpkt.udp.UDP):
        payload.ulen = 8 + len(payload.data)
    protocol = dpkt.ip.IP_PROTO_TCP if isinstance(payload, dpkt.tcp.TCP) else dpkt.ip.IP_PROTO_UDP
    packet = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=protocol,
                        data=payload, **fields)
    packet.len = len(bytes(packet))
    return packet


def tcp(src, dst, flags, seq=0, ack=0, *, data=b"", sack=()):  # noqa: PLR0913
    """A TCP segment; sack: (first, after last) sequence numbers of SACK blocks."""
    opts = b"".join(first.to_bytes(4, "big") + last.to_bytes(4, "big") for first, last in sack)
    opts = bytes([1, 1, dpkt.tcp.TCP_OPT_SACK, 2 + len(opts)]) + opts if sack else b""
    return ip(src, dst, dpkt.tcp.TCP(flags=flags, seq=seq % 2**32, ack=ack % 2**32, data=data,
                                     opts=opts, off=5 + len(opts) // 4))


def udp(src, dst, data):
    return ip(src, dst, dpkt.udp.UDP(data=data))


def fragments(packet, size):
    """A UDP datagram cut into IP fragments carrying `size` bytes each (a multiple of 8)."""
    body = bytes(packet.data)
    pieces = []
    for offset in range(0, len(body), size):
        more = offset + size < len(body)
        piece = dpkt.ip.IP(src=packet.src, dst=packet.dst, p=packet.p, id=packet.id,
                           mf=int(more), offset=offset // 8)  # in units of 8 bytes
        piece.data = body[offset:offset + size]
        piece.len = len(bytes(piece))
        pieces.append(dpkt.ip.IP(bytes(piece)))
    return pieces


S, A, F, P = dpkt.tcp.TH_SYN if dpkt else 0, dpkt.tcp.TH_ACK if dpkt else 0, \
    dpkt.tcp.TH_FIN if dpkt else 0, dpkt.tcp.TH_PUSH if dpkt else 0


def handshake(isn, server_isn=5000, start=0.0, client=CLIENT):
    return [(start, tcp(client, SERVER, S, isn)),
            (start + 0.001, tcp(SERVER, client, S | A, server_isn, isn + 1)),
            (start + 0.002, tcp(client, SERVER, A, isn + 1, server_isn + 1))]


class Records(unittest.TestCase):
    """The stages fed through real pcap files: the capture's Ethernet, the drop log's IPv4."""

    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix="socketlab-draw-"))
        self.addCleanup(lambda: [p.unlink() for p in self.folder.iterdir()] and self.folder.rmdir())

    def write(self, name, packets, linktype=dpkt.pcap.DLT_EN10MB if dpkt else 1):
        with open(self.folder / name, "wb") as file:
            writer = dpkt.pcap.Writer(file, linktype=linktype)
            for time, packet in packets:
                frame = dpkt.ethernet.Ethernet(data=packet, type=dpkt.ethernet.ETH_TYPE_IP) \
                    if linktype == dpkt.pcap.DLT_EN10MB else packet
                writer.writepkt(bytes(frame), time)

    def drawn(self, protocol):
        text, markdown, summary = draw.draw(self.folder, protocol)
        self.assertEqual([line for line in text if len(line) > 79], [])
        mermaid = re.findall(r"^    [CS](?:--?x|--?>>)[CS]: .*$", markdown, re.MULTILINE)
        self.assertEqual(len([line for line in text if TEXT_ARROW.match(line)]), len(mermaid))
        return text, mermaid, summary

    def record(self, name, events):
        """impair.py's record: (time, packet, fate) with fate's fields as keywords."""
        lines = [json.dumps({"time": time, "way": fate.get("way", "in"), "copy": fate.get("copy", False),
                             "lost": fate.get("lost", False), "held": fate.get("held", 0.0),
                             "packet": bytes(packet).hex()}) for time, packet, fate in events]
        (self.folder / name).write_text("".join(line + "\n" for line in lines))

    def test_the_record_gives_the_arriving_packets_and_the_lost_ones(self):
        """Arriving packets come from the record (held, copied, lost); a packet lost on its
        way out is only there; the capture gives the rest."""
        syn, synack, ack = (packet for _, packet in handshake(1000))
        message = tcp(CLIENT, SERVER, P | A, 1001, 5001, data=b"x" * 91)
        acked = tcp(SERVER, CLIENT, A, 5001, 1092)
        self.write("tcp.pcap", [(0.0, syn), (0.1, synack), (0.1, ack), (0.1, message), (0.31, message)])
        self.record("tcp-impair.jsonl", [
            (0.0, syn, {"held": 0.1}), (0.1, synack, {"way": "out"}), (0.1, ack, {"held": 0.1}),
            (0.1, message, {"lost": True}), (0.31, message, {"held": 0.1}),
            (0.31, message, {"held": 0.1, "copy": True}), (0.41, acked, {"way": "out", "lost": True})])
        _, mermaid, summary = self.drawn("tcp")
        self.assertEqual(mermaid, ["    C->>S: 0.000 s, SYN, held 0.10 s",
                                   "    S->>C: 0.100 s, SYN-ACK",
                                   "    C->>S: 0.100 s, ACK 1, held 0.10 s",
                                   "    C-xS: 0.100 s, data, bytes 1-91 (lost)",
                                   "    C->>S: 0.310 s, data, bytes 1-91, held 0.10 s, "
                                   "sent again after 0.21 s",
                                   "    C-->>S: 0.310 s, data, bytes 1-91, the network's copy, held 0.10 s",
                                   "    S-xC: 0.410 s, ACK 92 (lost)"])
        self.assertEqual(summary.splitlines(), [
            "TCP: 7 packets, 2 lost, 1 sent again by the kernels", "TCP: 1 copy by the network"])

    def test_a_record_from_a_later_run_is_refused_an_earlier_one_left_out(self):
        self.write("tcp.pcap", handshake(1000))
        other = tcp(("192.0.2.9", 40000), SERVER, S, 7)
        self.record("tcp-impair.jsonl", [(3600.0, other, {"lost": True})])
        with self.assertRaisesRegex(draw.Bad, r"tcp\.pcap is older than tcp-impair\.jsonl"):
            draw.draw(self.folder, "tcp")
        self.record("tcp-impair.jsonl", [(-3600.0, other, {"lost": True})])
        self.assertEqual(self.drawn("tcp")[2], "TCP: 3 packets, none lost, none sent again by the kernels")

    def test_a_record_cut_short_is_one_line(self):
        self.write("udp.pcap", [(0.0, udp(UDP_CLIENT, UDP_SERVER, b"hello"))])
        (self.folder / "udp-impair.jsonl").write_text('{"time": 0.0, "way": "in", "co')
        with self.assertRaisesRegex(draw.Bad, r"^wire/captures/udp-impair\.jsonl is cut short, or is no "
                                              r"record of impair\.py; run the lab again$"):
            draw.draw(self.folder, "udp")

    def test_a_file_cut_short_is_one_line(self):
        self.write("tcp.pcap", handshake(1000))
        whole = (self.folder / "tcp.pcap").read_bytes()
        (self.folder / "tcp.pcap").write_bytes(whole[:-10])
        with self.assertRaisesRegex(draw.Bad, r"^wire/captures/tcp\.pcap is cut short, or is no capture; "):
            draw.draw(self.folder, "tcp")

    def test_an_empty_capture_is_one_line(self):
        (self.folder / "tcp.pcap").write_bytes(b"")
        with self.assertRaisesRegex(draw.Bad, r"^wire/captures/tcp\.pcap is empty: the capture never "
                                              r"started; "):
            draw.draw(self.folder, "tcp")


class Labels(unittest.TestCase):
    """Packets straight into the labelling stage."""

    def arrows(self, protocol, timed, lost=(), **fates):
        """fates: held=({n: seconds}), copy=({n, ...}), overtaken=({n: count})."""
        held, copy, overtaken = fates.get("held", {}), fates.get("copy", ()), fates.get("overtaken", {})
        packets = [draw.Packet(t, p, lost=n in lost, held=held.get(n, 0.0), copy=n in copy,
                               overtaken=overtaken.get(n, 0)) for n, (t, p) in enumerate(timed)]
        return draw.arrows(protocol, draw.datagrams(packets) if protocol == "udp" else packets)

    def test_sequence_numbers_that_wrap_count_bytes_from_1(self):
        isn = 2**32 - 10  # the message's 91 bytes cross from 2**32 - 1 to 0
        message = tcp(CLIENT, SERVER, P | A, isn + 1, 5001, data=b"x" * 91)
        acked = tcp(SERVER, CLIENT, A, 5001, isn + 92)
        drawn = self.arrows("tcp", [*handshake(isn), (0.01, message), (0.02, acked)])
        self.assertEqual([a.words for a in drawn], ["SYN", "SYN-ACK", "ACK 1", "data, bytes 1-91", "ACK 92"])

    def test_the_client_is_the_end_without_the_server_port_even_when_the_capture_starts_late(self):
        drawn = self.arrows("tcp", [(0.0, tcp(SERVER, CLIENT, P | A, 5001, 1092, data=b"y" * 16)),
                                    (0.001, tcp(CLIENT, SERVER, A, 1092, 5017))])
        self.assertEqual([a.rightwards for a in drawn], [False, True])
        self.assertEqual(draw.title("tcp", drawn[0].connection),
                         "connection 1: 192.0.2.4:33322 to 192.0.2.3:10000")
        self.assertEqual([a.words for a in drawn], ["data, bytes 1-16", "ACK 17"])

    def test_a_reused_port_with_a_new_first_sequence_number_is_a_new_connection(self):
        first = [*handshake(1000), (0.01, tcp(CLIENT, SERVER, F | A, 1001, 5001))]
        again = handshake(90000, 7000, start=1.0)  # the same client port, later
        drawn = self.arrows("tcp", first + again)
        self.assertEqual([a.connection.number for a in drawn], [1, 1, 1, 1, 2, 2, 2])
        self.assertEqual([a.words for a in drawn[4:]], ["SYN", "SYN-ACK", "ACK 1"])
        self.assertTrue(all(a.again_after is None for a in drawn))
        self.assertEqual(draw.tally("tcp", drawn),
                         "TCP: 7 packets in 2 connections, none lost, none sent again by the kernels")

    def test_a_fragmented_datagram_lost_then_sent_again_is_one_arrow_each_time(self):
        datagram = udp(UDP_CLIENT, UDP_SERVER, b"z" * 3000)
        pieces = fragments(datagram, 1480)
        timed = [(0.0, pieces[0]), (0.0001, pieces[1]), (0.0002, pieces[2]),
                 (1.0, pieces[0]), (1.0001, pieces[1]), (1.0002, pieces[2]),
                 (1.01, udp(UDP_SERVER, UDP_CLIENT, b"z" * 3000))]
        drawn = self.arrows("udp", timed, lost={1})
        self.assertEqual([(a.rightwards, a.words, a.lost, a.again_after is not None) for a in drawn], [
            (True, "datagram, 3000 bytes, 3 fragments", True, False),
            (True, "datagram, 3000 bytes, 3 fragments", False, True),
            (False, "datagram, 3000 bytes", False, False)])

    def test_the_servers_answer_to_a_datagram_sent_again_is_no_sending_again(self):
        """The client sent twice; the server answered each: one resend, the client's."""
        asked, answered = udp(UDP_CLIENT, UDP_SERVER, b"hello"), udp(UDP_SERVER, UDP_CLIENT, b"hello")
        drawn = self.arrows("udp", [(0.0, asked), (0.001, answered), (1.0, asked), (1.001, answered)],
                            lost={1})
        self.assertEqual([a.again_after is not None for a in drawn], [False, False, True, False])
        self.assertEqual(draw.tally("udp", drawn),
                         "UDP: 4 datagrams, 1 lost, sent again by the client after 1.00 s")

    def test_every_text_line_fits_79_columns_long_labels_and_late_times_too(self):
        """A lost, resent, fragmented datagram 1000 s after the first packet: its words
        go on a second line, inside the ladder."""
        datagram = udp(UDP_CLIENT, UDP_SERVER, b"z" * 65507)
        pieces = fragments(datagram, 1480)
        timed = [(0.0, udp(UDP_CLIENT, UDP_SERVER, b"first"))]
        timed += [(1000.5, piece) for piece in pieces] + [(1234.5, piece) for piece in pieces]
        drawn = self.arrows("udp", timed, lost={1, len(pieces) + 1})
        text = draw.text_ladder("udp", drawn)
        self.assertEqual([line for line in text if len(line) > 79], [])
        shown = [line for line in text if TEXT_ARROW.match(line)]
        self.assertEqual(len(shown), 3)
        self.assertTrue(shown[2].startswith(" 1234.5 |-- datagram, 65507 bytes, 45 fragments,"), shown)
        self.assertRegex(text[-1], r"^ {8}\|   sent again after 234\.00 s +\|$")
        self.assertIn("X", shown[2])

    def test_a_duplicated_datagram_is_the_networks_copy_not_sent_again(self):
        asked, answered = udp(UDP_CLIENT, UDP_SERVER, b"hello"), udp(UDP_SERVER, UDP_CLIENT, b"hello")
        drawn = self.arrows("udp", [(0.0, asked), (0.0001, asked), (0.001, answered), (0.002, answered)],
                            copy={1})
        self.assertEqual([draw.words_of(a) for a in drawn], [
            "datagram, 5 bytes", "datagram, 5 bytes, the network's copy", "datagram, 5 bytes",
            "datagram, 5 bytes"])
        self.assertEqual(draw.tally("udp", drawn), "UDP: 4 datagrams, none lost\nUDP: 1 copy by the network")
        self.assertEqual(draw.mermaid("udp", drawn)[5],
                         "    C-->>S: 0.000 s, datagram, 5 bytes, the network's copy")

    def test_a_duplicated_segment_is_no_resend_and_its_d_sack_is_shown(self):
        message = tcp(CLIENT, SERVER, P | A, 1001, 5001, data=b"x" * 91)
        sack = tcp(SERVER, CLIENT, A, 5001, 1092, sack=[(1001, 1092)])
        timed = [*handshake(1000), (0.01, message), (0.0101, message),
                 (0.011, tcp(SERVER, CLIENT, A, 5001, 1092)), (0.012, sack)]
        drawn = self.arrows("tcp", timed, copy={4})
        self.assertEqual([draw.words_of(a) for a in drawn[3:]], [
            "data, bytes 1-91", "data, bytes 1-91, the network's copy", "ACK 92",
            "duplicate ACK 92, D-SACK 1-91"])
        self.assertEqual(draw.tally("tcp", drawn),
                         "TCP: 7 packets, none lost, none sent again by the kernels\n"
                         "TCP: 1 copy by the network")

    def test_a_held_packet_overtaken_says_so_and_sack_blocks_are_numbered_from_1(self):
        first = tcp(CLIENT, SERVER, P | A, 1001, 5001, data=b"a" * 1448)
        second = tcp(CLIENT, SERVER, P | A, 2449, 5001, data=b"b" * 1448)
        sack = tcp(SERVER, CLIENT, A, 5001, 1001, sack=[(2449, 3897)])
        drawn = self.arrows("tcp", [*handshake(1000), (0.01, first), (0.0101, second), (0.011, sack)],
                            held={3: 0.1}, overtaken={3: 1})
        self.assertEqual([draw.words_of(a) for a in drawn[3:]], [
            "data, bytes 1-1448, held 0.10 s, overtaken by 1", "data, bytes 1449-2896",
            "ACK 1, SACK 1449-2896"])
        self.assertEqual(draw.tally("tcp", drawn),
                         "TCP: 6 packets, none lost, none sent again by the kernels\nTCP: 1 overtaken")

    def test_the_round_trips_are_counted_from_the_arrows_after_a_delay(self):
        """The lab's echo on a network that holds each arriving packet 0.1 s: the handshake,
        the message, then the rest of the echo waits for an ACK (Nagle's algorithm)."""
        syn, synack, ack = (packet for _, packet in handshake(1000))
        message = tcp(CLIENT, SERVER, P | A, 1001, 5001, data=b"x" * 91)
        timed = [(0.0, syn), (0.1, synack), (0.1, ack), (0.1, message),
                 (0.2, tcp(SERVER, CLIENT, A, 5001, 1092)),
                 (0.2, tcp(SERVER, CLIENT, P | A, 5001, 1092, data=b"x" * 16)),
                 (0.2, tcp(CLIENT, SERVER, A, 1092, 5017)),
                 (0.3, tcp(SERVER, CLIENT, P | A, 5017, 1092, data=b"x" * 75)),
                 (0.3, tcp(CLIENT, SERVER, A, 1092, 5092))]
        held = {n: 0.1 for n, (_, p) in enumerate(timed) if p.data.dport == SERVER[1]}
        drawn = self.arrows("tcp", timed, held=held)
        self.assertEqual(draw.tally("tcp", drawn).splitlines()[1],
                         "TCP: 3 round trips of 0.10 s for 91 bytes: handshake, message, Nagle's wait")
        udp_drawn = self.arrows("udp", [(0.0, udp(UDP_CLIENT, UDP_SERVER, b"x" * 48)),
                                        (0.1, udp(UDP_SERVER, UDP_CLIENT, b"x" * 48))], held={0: 0.1})
        self.assertEqual(draw.tally("udp", udp_drawn),
                         "UDP: 2 datagrams, none lost\nUDP: 1 round trip of 0.10 s for 48 bytes")
        # Without a delay, no round trips are counted: a held-back packet alone is no delay.
        self.assertEqual(len(draw.tally("tcp", self.arrows("tcp", timed, held={0: 0.1})).splitlines()), 1)

    def test_every_mermaid_line_of_the_new_marks_is_drawn_in_text_too(self):
        asked = udp(UDP_CLIENT, UDP_SERVER, b"hello")
        drawn = self.arrows("udp", [(0.0, asked), (0.0001, asked)], lost={1}, copy={1}, held={0: 0.25})
        self.assertEqual(draw.mermaid("udp", drawn)[4:], [
            "    C->>S: 0.000 s, datagram, 5 bytes, held 0.25 s",
            "    C--xS: 0.000 s, datagram, 5 bytes, the network's copy (lost)"])
        text = draw.text_ladder("udp", drawn)
        self.assertEqual([line for line in text if TEXT_ARROW.match(line)][1][-7:], "X     |")


if __name__ == "__main__":
    unittest.main()
