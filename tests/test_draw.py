"""wire/draw.py's stages, on packets built in memory with dpkt: no Docker, no network.

dpkt is the one library these need, as draw.py does in the wire image: where it is not
installed they skip, saying so (`pip install dpkt==1.9.8`, or CI's .ci/venv, runs them).
"""
import importlib.util
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


def tcp(src, dst, flags, seq=0, ack=0, *, data=b""):  # noqa: PLR0913
    return ip(src, dst, dpkt.tcp.TCP(flags=flags, seq=seq % 2**32, ack=ack % 2**32, data=data))


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
        mermaid = re.findall(r"^    [CS](?:-x|->>)[CS]: .*$", markdown, re.MULTILINE)
        self.assertEqual(len([line for line in text if TEXT_ARROW.match(line)]), len(mermaid))
        return text, mermaid, summary

    def test_the_drop_log_is_read_as_bare_ipv4_and_merged(self):
        lost = tcp(CLIENT, SERVER, P | A, 1001, 5001, data=b"x" * 91)
        self.write("tcp.pcap", [*handshake(1000), (0.01, lost), (0.22, lost)])
        self.write("tcp-lost.pcap", [(0.01, lost)], linktype=228)  # what tcpdump -y IPV4 writes
        _, mermaid, summary = self.drawn("tcp")
        self.assertEqual(mermaid[3:], ["    C-xS: 0.010 s, data, bytes 1-91 (lost)",
                                       "    C->>S: 0.220 s, data, bytes 1-91, sent again after 0.21 s"])
        self.assertEqual(summary, "TCP: 5 packets, 1 lost, 1 sent again by the kernels")

    def test_a_drop_log_from_a_later_run_is_refused(self):
        self.write("tcp.pcap", handshake(1000))
        other = tcp(("192.0.2.9", 40000), SERVER, S, 7)
        self.write("tcp-lost.pcap", [(3600.0, other)], linktype=228)
        with self.assertRaisesRegex(draw.Bad, r"tcp\.pcap is older than tcp-lost\.pcap"):
            draw.draw(self.folder, "tcp")

    def test_a_file_cut_short_is_one_line(self):
        self.write("tcp.pcap", handshake(1000))
        whole = (self.folder / "tcp.pcap").read_bytes()
        (self.folder / "tcp.pcap").write_bytes(whole[:-10])
        with self.assertRaisesRegex(draw.Bad, r"^wire/captures/tcp\.pcap is cut short, or is no capture; "):
            draw.draw(self.folder, "tcp")


class Labels(unittest.TestCase):
    """Packets straight into the labelling stage."""

    def arrows(self, protocol, timed, lost=()):
        packets = [draw.Packet(t, p, lost=n in lost) for n, (t, p) in enumerate(timed)]
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


if __name__ == "__main__":
    unittest.main()
