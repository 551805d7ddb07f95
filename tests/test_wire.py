"""wire/: the capture, the impaired network and the drawings, on the real lab, as
wire/README.md runs them, with exercises 9 to 15. They run with LAB_WIRE=1 (the wire's
own test command, in its chapter), not in README.md's: the lab's tests are what a
student waits for after changing a script.

What the Compose program decides (which services start, when, with what) is checked on
every engine; what only the kernels and the wire's tools decide (round trips, order,
copies, impair.py's own settings) once, on the first Docker Compose found.
"""
import ast
import os
import re
import time
import unittest

from handout import LOSS_RUN, WIRE, drawn_in_wire, wire_block, wire_commands
from lab import LAB_NAMES, OTHER_USER, RULES, WireLab, base_image
from support import (CONTAINER_ADDRESS, TCP_MESSAGE, UDP_MESSAGE, exercise, fold, tcp_client_lines,
                     tcp_server_lines, udp_server_lines, wait_until)
from wire_output import (Lost, arrows, impaired, ladder_arrows, lost, packet, tshark_or_skip, wireshark)


def setUpModule():
    if os.environ.get("LAB_WIRE") != "1":
        raise unittest.SkipTest("the wire's tests take some minutes more: LAB_WIRE=1 runs them "
                                "(wire/README.md, Tests)")


def client_address(line):
    """The client's (host, port) in a server's third line."""
    return re.fullmatch(rf"(?:Connection from|Received 48 bytes from) ({CONTAINER_ADDRESS})", line).group(1)


def whole_exchange(test, tcp):
    """A captured TCP exchange from its SYN: the handshake, the 91 bytes in one segment,
    their echo, both FINs. 20 packets, as wire/README.md counts them, unless a busy
    computer's kernel sent some of the server's chunks together (Nagle's algorithm, as
    it explains)."""
    test.assertEqual([(p.direction, p.flags) for p in tcp[:3]],
                     [("to server", "S"), ("to client", "S."), ("to server", ".")])
    test.assertEqual([p.length for p in tcp if p.direction == "to server" and p.length], [91])
    test.assertEqual(sum(p.length for p in tcp if p.direction == "to client"), 91)
    test.assertEqual([p.direction for p in tcp if "F" in p.flags], ["to server", "to client"])
    test.assertTrue(14 <= len(tcp) <= 20, tcp)


class CaptureAndLoss(WireLab):
    """The capture and the loss, on every engine."""

    def test_a_perfect_run_captured_as_the_readme_shows_in_files_of_the_clones_owner(self):
        self.assertEqual(self.run_lab("wire/capture.yml", owner=OTHER_USER), [0, 0])
        self.assertNotRegex(self.compose("config", "--services").stdout, "capture|impair")  # opt-in
        owner = self.owner()
        self.assertEqual(owner, self.engine.uid if self.engine.rootless else OTHER_USER if os.getuid() == 0
                         else os.getuid())
        for service, server, capture_filter in (("tcp-capture", "tcp-server", "tcp port 10000"),
                                                ("udp-capture", "udp-server", "udp")):
            command = self.inspect(service, "{{json .Config.Cmd}}")
            self.assertEqual(command[-1], capture_filter)  # only the lab's protocol
            if self.engine.podman:  # Podman's inspect and user namespace show these otherwise
                continue
            self.assert_least_privilege(service, {"NET_RAW", "SETUID", "SETGID"}, server)
            status = dict(line.split(":\t", 1) for line in self.checked(
                "exec", self.container(service), "cat", "/proc/1/status").splitlines() if ":\t" in line)
            self.assertEqual(status["Uid"].split(), [str(owner)] * 4)
            if owner:  # tcpdump keeps raw sockets (capability 13) and nothing else
                self.assertEqual(int(status["CapEff"], 16), 1 << 13)
        self.stop_captures(**self.options)
        captures = self.folder / "wire" / "captures"
        tcp = [packet(line) for line in self.read_capture("tcp.pcap")]
        whole_exchange(self, tcp)
        udp = [packet(line) for line in self.read_capture("udp.pcap")]
        self.assertEqual([(p.direction, p.flags, p.length) for p in udp],
                         [("to server", "UDP", 48), ("to client", "UDP", 48)])
        # Drawn: 20 TCP arrows and 2 UDP arrows, none crossed, as wire/README.md shows
        # (unless the echo coalesced: then the start is the same).
        _, drawn = self.draw()
        for protocol, count in (("tcp", 20), ("udp", 2)):
            shown, tally = drawn_in_wire("## Drawing the wire", protocol)
            self.assertEqual(len(arrows(shown)), count)
            if len(arrows(drawn[protocol])) < count:
                self.assertEqual(arrows(drawn[protocol])[:5], arrows(shown)[:5])
                continue
            self.assertEqual(arrows(drawn[protocol]), arrows(shown))
            self.assertEqual(drawn[protocol].splitlines()[-1], tally)
        tshark_or_skip(self)
        self.check_the_wireshark_table(captures, len(tcp))

    def check_the_wireshark_table(self, captures, count):
        """wire/README.md's filters, on the perfect run: what the table says each shows."""
        tcp = captures / "tcp.pcap"
        syns = wireshark(self, tcp, "tcp.flags.syn == 1")  # the first two packets of the handshake
        self.assertEqual([(number, port == 10000, size) for number, port, size, _ in syns],
                         [(1, False, 0), (2, True, 0)])
        data = wireshark(self, tcp, "tcp.len > 0")  # the message and the echoes
        self.assertEqual([size for _, port, size, _ in data if port != 10000], [91])
        if count == 20:
            self.assertEqual([(port == 10000, size) for _, port, size, _ in data],
                             [(False, 91)] + [(True, 16)] * 5 + [(True, 11)])
        fins = wireshark(self, tcp, "tcp.flags.fin == 1")  # the two FINs of the teardown
        self.assertEqual(sorted(port == 10000 for _, port, _, _ in fins), [False, True])
        udp = wireshark(self, captures / "udp.pcap", "udp")
        self.assertEqual([(port == 10001, size) for _, port, size, _ in udp], [(False, 0), (True, 0)])

    @exercise(9, 11, 12)
    def test_deterministic_loss_with_the_capture_as_the_readme_shows(self):
        self.assertEqual(self.run_lab("wire/impair.yml", "wire/capture.yml", loss_every=4), [0, 0])
        if not self.engine.podman:
            for service, server in (("tcp-impair", "tcp-server"), ("udp-impair", "udp-server")):
                self.assert_least_privilege(service, {"NET_ADMIN", "SETUID", "SETGID"}, server)
        # The programs print exactly what they print on a perfect network; UDP's resend aside.
        self.assertEqual(self.log("tcp-client"), tcp_client_lines("tcp-server", 10000))
        tcp_server, udp_server = self.log("tcp-server"), self.log("udp-server")
        self.assertEqual(tcp_server, tcp_server_lines(10000, client_address(tcp_server[2])))
        self.assertEqual(udp_server, udp_server_lines(10001, client_address(udp_server[2])))
        sending, waiting = f"Sending {UDP_MESSAGE!r} to udp-server:10001", "Waiting to receive..."
        expected = [sending, waiting, "No reply within 1 s", sending, waiting,
                    rf"Received 48 bytes from {CONTAINER_ADDRESS}", f"Data: {UDP_MESSAGE!r}",
                    "Closing socket"]
        self.assertEqual(len(LOSS_RUN["udp-client"]), len(expected))
        for real, shown, pattern in zip(self.log("udp-client"), LOSS_RUN["udp-client"], expected):
            self.assertRegex(real, "^" + (pattern if "Received" in pattern else re.escape(pattern)) + "$")
            self.assertRegex(shown, "^" + (pattern if "Received" in pattern else re.escape(pattern)) + "$")

        # The capture, packet by packet, is the README's: lost SYN and message resent, the
        # lost ACK covered by the next one, the echo in two segments, the server's FIN resent
        # (13 and 14; how the teardown ends is checked on the drawing below).
        self.stop_captures(**self.options)
        capture = [packet(line) for line in self.read_capture("tcp.pcap")]
        self.assertEqual(capture[:12], [packet(line) for line in LOSS_RUN["tcp-capture"]][:12])
        # After them, the server sends only FINs; or, when the client's network outlived the
        # client (a busy computer), the ACK of the client's kernel's FIN too.
        self.assertIn({p.flags for p in capture[12:] if p.direction == "to client"}, ({"F."}, {"F.", "."}))
        self.assertEqual([p.seq for p in capture if p.seq == "1:92"], ["1:92", "1:92"])  # resent
        self.assertEqual([p.length for p in capture if p.direction == "to client" and p.length],
                         [16, 75])  # exercise 11: two segments, not six
        udp = [packet(line) for line in self.read_capture("udp.pcap")]
        self.assertEqual([p.direction for p in udp], ["to server", "to server", "to client"])

        # impair.py printed each packet it lost, as the README shows them, and its record
        # has the same: every fourth packet, both ways counted.
        for service in ("tcp-impair", "udp-impair"):
            dropped = self.the_readme_drop_log(service)
            fates = sorted(self.record(service[:3]), key=lambda fate: fate["time"])  # as they came
            self.assertEqual(len(dropped), sum(fate["lost"] for fate in fates))
            self.assertEqual([n for n, fate in enumerate(fates) if fate["lost"]],
                             list(range(0, len(fates), 4)))

        # Exercise 9: the lost SYN costs the client a second before it can send.
        times = [at for at, _ in self.timed_log("tcp-client")]
        self.assertTrue(1.0 <= (times[1] - times[0]).total_seconds() < 2.0, times)
        self.assertLess((times[-1] - times[1]).total_seconds(), 1.0)

        tcp = self.check_the_drawing_of_the_readme_run(capture)
        tshark_or_skip(self)
        self.check_the_filters_of_exercises_9_and_11(self.folder / "wire" / "captures" / "tcp.pcap", tcp)

    def check_the_drawing_of_the_readme_run(self, capture):
        """Drawn: every captured packet, and the server's FIN that only the drop log has;
        lost SYN, message, ACK and FIN crossed out, as wire/README.md shows."""
        _, drawn = self.draw()
        tcp, (shown, tally) = arrows(drawn["tcp"]), drawn_in_wire("### One run, drawn", "tcp")
        shown = arrows(shown)
        out = [p for p in map(lost, self.log("tcp-impair")[1:]) if p.direction == "to client"]
        self.assertEqual(len(tcp), len(capture) + len(out))
        self.the_end_after_the_lost_fin(tcp, shown)
        self.assertEqual([(sender, label) for sender, label, lost in tcp[:13] if lost],
                         [("C", "SYN"), ("C", "data, bytes 1-91"), ("C", "ACK 17"), ("S", "FIN")])
        for ladder, line in ((tcp, drawn["tcp"].splitlines()[-1]), (shown, tally)):
            self.assertEqual(line, f"TCP: {len(ladder)} packets, {sum(a[2] for a in ladder)} lost, "
                                   f"{sum('again' in a[1] for a in ladder)} sent again by the kernels")
        # Exercise 12: the client's lost SYN is sent again after about a second, its lost
        # message after a fifth of a second or more; its lost ACK is never sent again.
        times = dict(re.findall(r"^    C->>S: [\d.]+ s, (SYN|data), .*sent again after ([\d.]+) s$",
                                drawn["tcp"], re.MULTILINE))
        self.assertTrue(0.95 <= float(times["SYN"]) < 1.5 and 0.19 <= float(times["data"]) < 0.5, times)
        self.assertEqual([a for a in tcp if a[:2] == ("C", "ACK 17")], [("C", "ACK 17", True)])
        udp, (shown, tally) = arrows(drawn["udp"]), drawn_in_wire("### One run, drawn", "udp")
        self.assertEqual(udp, arrows(shown))
        self.assertEqual(udp, [("C", "datagram, 48 bytes", True),
                               ("C", "datagram, 48 bytes, sent again after", False),
                               ("S", "datagram, 48 bytes", False)])
        for line in (drawn["udp"].splitlines()[-1], tally):
            self.assertRegex(line, r"^UDP: 3 datagrams, 1 lost, sent again by the client after 1\.0\d s$")
        return tcp

    def check_the_filters_of_exercises_9_and_11(self, pcap, tcp):
        """On the LOSS_EVERY=4 capture, what exercises 9 and 11 tell students to type."""
        syns = wireshark(self, pcap, "tcp.flags.syn == 1 and tcp.flags.ack == 0")  # two SYNs, 1 s apart
        self.assertEqual(len(syns), 2)
        self.assertTrue(0.95 <= syns[1][3] - syns[0][3] < 1.5, syns)
        echo = wireshark(self, pcap, "tcp.srcport == 10000 and tcp.len > 0")  # 16 and 75, not six
        self.assertEqual([size for _, _, size, _ in echo], [16, 75])
        # What Wireshark marks as sent again is what the drawing does, but for the server's
        # first FIN copy: the capture never saw the lost original (only the drop log did).
        marked = [number for number, *_ in wireshark(self, pcap, "tcp.analysis.retransmission")]
        again = [number for number, (_, label, _) in enumerate(tcp, 1) if "sent again" in label]
        outgoing_fin = next(n for n, (sender, label, lost) in enumerate(tcp, 1) if sender == "S" and lost)
        first_copy = next(n for n, arrow in enumerate(tcp, 1) if arrow[:2] == ("S", "FIN, sent again after"))
        # Arrow numbers count the lost outgoing FIN, which is no frame of the capture.
        frames = [n - (n > outgoing_fin) for n in again if n != first_copy]
        # Up to the lost FIN, exactly the README's run; after it, where the client's network
        # outlived the client, Wireshark may call its kernel's second FIN spurious instead.
        self.assertEqual([n for n in marked if n <= 12], [n for n in frames if n <= 12])
        self.assertLessEqual(set(marked), set(frames))
        self.assertGreaterEqual(len(marked), 3)


class ClientsBeforeTheirCapture(WireLab):
    def test_several_tcp_clients_wait_for_their_capture_and_are_drawn_one_after_another(self):
        """Three clients, started before their capture: they wait for it (whatever order an
        engine starts containers in), so each connection is drawn from its SYN."""
        options = {"files": ["wire/capture.yml"]}
        self.up("tcp-server", **options)
        self.compose("up", "-d", "--no-deps", "--scale", "tcp-client=3", "tcp-client", **options)
        wait_until(lambda: len(self.containers("tcp-client", status="running")) == 3, 30,
                   "the clients started")
        watched = time.monotonic() + 1
        while time.monotonic() < watched:  # for a second: the clients wait, the server sees nobody
            self.assertEqual(self.log("tcp-server"), tcp_server_lines(10000, "")[:2])
            self.assertFalse(self.containers("tcp-client", status="exited"))
            time.sleep(0.2)
        self.compose("up", "-d", "--no-deps", "tcp-capture", **options)
        self.assertEqual(self.wait_for_clients("tcp-client", count=3), [0, 0, 0])
        self.assertEqual(sum(line.startswith("Connection from") for line in self.log("tcp-server")), 3)
        # Each connection's last packet, the client's ACK of the server's FIN: then stop.
        wait_until(lambda: sum("Flags [.], ack 93," in line for line in self.log("tcp-capture")) == 3,
                   20, "three connections captured to their end")
        self.compose("stop", "tcp-capture", **options)
        lines, drawn = self.draw()
        self.assertEqual(list(drawn), ["tcp"])  # udp-capture never ran
        self.assertEqual(len([line for line in lines if re.search(r" connection \d: ", line)]), 3)
        parts = re.split(r"\n    Note over C,S: connection (\d): .*\n", drawn["tcp"])
        self.assertEqual(parts[1::2], ["1", "2", "3"])
        counts = []
        for part in parts[2::2]:  # each one whole: from its SYN to the last ACK
            ladder = arrows("\n" + part)
            self.assertEqual((ladder[0], ladder[-1]), (("C", "SYN", False), ("C", "ACK 93", False)))
            counts.append(len(ladder))
        # 20 packets each, as wire/README.md counts them, unless a busy computer's
        # kernel sent two of a server's chunks in one segment (Nagle's algorithm).
        self.assertTrue(all(14 <= count <= 20 for count in counts), counts)
        self.assertEqual(drawn["tcp"].splitlines()[-1], f"TCP: {sum(counts)} packets in 3 connections, "
                                                         "none lost, none sent again by the kernels")
        tshark_or_skip(self)  # tcp.stream == 1: the second connection only
        second = wireshark(self, self.folder / "wire" / "captures" / "tcp.pcap", "tcp.stream == 1")
        self.assertEqual(len(second), counts[1])
        self.assertEqual(len({port for _, port, _, _ in second} - {10000}), 1)


class ABadSetting(WireLab):
    """Docker's Compose programs, each: a bad value stops everything before it starts."""

    def test_a_bad_impairment_setting_stops_everything_with_one_line(self):
        line = "Error: LOSS_PERCENT must be a whole number from 0 to 100, not '150'"
        options = {"files": ["wire/impair.yml"], "settings": impaired(loss_percent=150)}
        self.down_at_the_end(**options)
        attached = self.compose("up", "--build", check=False, **options)
        self.assertNotEqual(attached.returncode, 0)
        if self.engine.name == "Compose v2":  # legacy Compose does not show it: see wire/README.md
            self.assertRegex(attached.stdout + attached.stderr,
                             rf"(?m)^impair-settings-1 +\| {re.escape(line)}$")
            self.assertIn(f"impair-settings-1  | {line}", WIRE)
        logs = self.compose("logs", "--no-color", "impair-settings", **options).stdout
        self.assertEqual([text.split("| ", 1)[1] for text in logs.splitlines() if "| " in text], [line])
        ran = {service for service in ("impair-settings", "tcp-impair", "udp-impair", *LAB_NAMES,
                                       "tcp-client", "udp-client")
               if self.containers(service)
               and not self.inspect(service, "{{json .State.StartedAt}}").startswith("0001-")}
        self.assertEqual(ran, {"impair-settings"})  # no server, no client ever started
        self.assertEqual(self.containers(status="running"), [])


class OnceOnDocker(WireLab):
    """What only the kernels and the wire's tools decide: once, on the first Compose."""

    def test_exercise_1_captured_the_queued_clients_data_is_acknowledged_the_echo_waits(self):
        """wire/README.md's note on exercises 1 and 7, on the drawing of exercise 1 run with
        the capture, as it tells: each queued client's 91 bytes leave at once and the
        server's kernel acknowledges them at once; only the echo waits for the FIN to the
        silent client, when its idle time is up."""
        self.assertIn("docker compose -f docker-compose.yml -f wire/capture.yml up --build -d tcp-server "
                      "tcp-capture", fold(WIRE))
        options = {"files": ["wire/capture.yml"]}
        silent = self.queue_behind_a_silent_client("tcp-capture", idle_timeout=5, **options)
        silent.close()
        # Stopped once each connection's two FINs are captured: counting packets instead
        # would depend on how many segments each echo took on a busy machine.

        def both_fins_of_all_four():
            log = self.log("tcp-capture")
            return all(sum("Flags [F" in line and way in line for line in log) >= 4
                       for way in (".10000 > ", ".10000: "))
        try:
            wait_until(both_fins_of_all_four, 20, "every FIN captured")
        except AssertionError as error:
            raise AssertionError("\n".join([str(error), *self.log("tcp-capture")])) from None
        self.compose("stop", "tcp-capture", **options)
        _, drawn = self.draw()
        connections = [re.findall(r"^    ([CS])-[x>]+[CS]: ([\d.]+) s, (.*)$", part, re.MULTILINE)
                       for part in re.split(r"\n    Note over C,S: connection \d: .*\n", drawn["tcp"])[1:]]
        self.assertEqual(len(connections), 4)
        silent_arrows = [(sender, label) for sender, _, label in connections[0]]
        self.assertEqual(silent_arrows[:4], [("C", "SYN"), ("S", "SYN-ACK"), ("C", "ACK 1"), ("S", "FIN")])
        fin = float(connections[0][3][1])  # exercise 7: the server's FIN, when the idle time is up
        self.assertTrue(4.5 <= fin - float(connections[0][0][1]) < 7, connections[0])
        for arrows_of_one in connections[1:]:
            at = {(sender, label): float(seconds) for sender, seconds, label in arrows_of_one}
            self.assertLess(at["C", "data, bytes 1-91"], fin)
            self.assertLess(at["S", "ACK 92"] - at["C", "data, bytes 1-91"], 0.1)
            self.assertGreaterEqual(at["S", "data, bytes 1-16"], fin)

    def test_a_debian_python3_package_would_bring_a_second_python_into_the_image(self):
        """Why wire/Dockerfile installs dpkt and NetfilterQueue with pip: the base image's
        Python is not Debian's, and python3-dpkt would pull Debian's python3 in beside it
        (test_lab.py's Images checks that the images have one Python)."""
        simulated = self.checked("run", "--rm", "--user", "0", "--entrypoint", "sh", base_image(), "-ec",
                                 "apt-get update -qq; apt-get install -s python3-dpkt", timeout=180)
        installed = [line.split()[1] for line in simulated.splitlines() if line.startswith("Inst ")]
        self.assertIn("python3", installed)

    def test_a_fragmented_datagram_is_captured_in_fragments_and_drawn_whole(self):
        """Exercise 4 through a running capture, with wire/README.md's command: 45 fragments
        each way on the wire, drawn as one arrow each way."""
        command = re.search(r"`docker compose -f docker-compose.yml -f wire/capture.yml (run --rm --no-deps "
                            r"-e MESSAGE=hello udp-client)`", fold(WIRE)).group(1).split()
        options = {"files": ["wire/capture.yml"]}
        self.up("udp-server", "udp-capture", **options)
        wait_until(lambda: any("listening on" in line for line in self.log("udp-capture", 2)), 20,
                   "the capture listening")
        command[command.index("MESSAGE=hello")] = "MESSAGE=" + "x" * 65507
        self.assertIn("Received 65507 bytes from", self.compose(*command, **options).stdout)
        wait_until(lambda: len(self.log("udp-capture")) >= 90, 20, "90 fragments captured")
        self.compose("stop", "udp-capture", **options)
        _, drawn = self.draw()
        self.assertEqual(list(drawn), ["udp"])
        self.assertEqual(arrows(drawn["udp"]), [("C", "datagram, 65507 bytes, 45 fragments", False),
                                                ("S", "datagram, 65507 bytes, 45 fragments", False)])
        tshark_or_skip(self)
        fragments = wireshark(self, self.folder / "wire" / "captures" / "udp.pcap",
                              "ip.flags.mf == 1 or ip.frag_offset > 0")
        self.assertEqual(len(fragments), 90)  # exercise 4's, filtered by tshark

    def test_impair_py_started_again_loads_its_rules_once(self):
        """The rules stay in the server's namespace after impair.py has stopped (its packets
        pass untouched: --queue-bypass); started again, it loads the same rules again, not
        a second set beside the first."""
        self.assertEqual(self.run_lab("wire/impair.yml", loss_every=4), [0, 0])
        self.compose("stop", "tcp-impair", **self.options)
        rules = self.checked("run", "--rm", "--network", f"container:{self.container('tcp-server')}",
                             "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "socket-lab-wire",
                             "iptables", "-S")
        self.assertEqual(len(re.findall(rf"{RULES}$", rules, re.M)), 2, rules)

        def started():
            return sum(line.startswith("Impairing tcp port 10000") for line in self.log("tcp-impair"))

        self.assertEqual(started(), 1)
        self.compose("start", "tcp-impair", **self.options)
        wait_until(lambda: started() == 2, 30, "impair.py started again")  # its rules are in by then
        self.one_set_of_rules("tcp-impair", "tcp", 10000)

    def test_every_bad_setting_is_refused_by_impair_py_with_one_line(self):
        cases = (("LOSS_PERCENT", "abc", "0 to 100"), ("LOSS_PERCENT", "-1", "0 to 100"),
                 ("LOSS_PERCENT", "101", "0 to 100"), ("LOSS_EVERY", "0", "1 to 100"),
                 ("DELAY_MS", "0.1", "0 to 10000"), ("JITTER_MS", "10001", "0 to 10000"),
                 ("REORDER_PERCENT", "½", "0 to 100"), ("REORDER_EVERY", "101", "1 to 100"),
                 ("DUPLICATE_PERCENT", " 5", "0 to 100"), ("DUPLICATE_EVERY", "0", "1 to 100"))
        # One container for all ten: impair.py's check, each with one bad value, its exit code after.
        script = "".join(f"{variable}='{value}' impair.py check; echo \"exit $?\"\n"
                         for variable, value, _ in cases)
        said = self.checked("run", "--rm", "--entrypoint", "sh", "socket-lab-wire", "-c",
                            f"exec 2>&1\n{script}")
        self.assertEqual(said.splitlines(), [line for variable, value, limits in cases for line in (
            f"Error: {variable} must be a whole number from {limits}, not '{value}'", "exit 1")])

    @exercise(13)
    def test_a_delay_costs_tcp_three_round_trips_and_udp_one(self):
        self.assertEqual(self.run_lab("wire/impair.yml", "wire/capture.yml", delay_ms=100), [0, 0])
        self.run_the_readme("## Round trips", ["logs"])
        self.assertEqual(self.log("tcp-impair"), ["Impairing tcp port 10000: delay 100 ms"])
        # The clients' own times: the handshake, the message, Nagle's wait; one for UDP.
        tcp = [at for at, _ in self.timed_log("tcp-client")]
        # Counted from `sending`, as a client printing late moves one line, not the next:
        # 0.1 s to it, 0.1 s to the first chunk, 0.2 s to the last (and less than 0.2 s
        # more, even on a busy computer). The times are when the engine read each line: a
        # line read a few milliseconds late shortens the next gap by as much (5 ms allowed).
        for later, earlier, least in ((tcp[1], tcp[0], 0.1), (tcp[2], tcp[1], 0.1), (tcp[-2], tcp[1], 0.2)):
            self.assertTrue(least - 0.005 <= (later - earlier).total_seconds() < least + 0.2, tcp)
        udp = [at for at, _ in self.timed_log("udp-client")]
        self.assertTrue(0.1 <= (udp[2] - udp[0]).total_seconds() < 0.3, udp)
        # Every packet arriving at a server was held 0.1 s, none leaving it.
        fates = self.record("tcp") + self.record("udp")
        self.assertTrue(all(0.1 <= f["held"] < 0.3 for f in fates if f["way"] == "in"), fates)
        self.assertEqual({f["held"] for f in fates if f["way"] == "out"}, {0})
        self.stop_captures(**self.options)
        lines, _ = self.draw()
        shown = wire_block("## Round trips", "seconds tcp-client")
        for protocol in ("TCP: ", "UDP: "):  # the round trips' tally lines, but for a busy
            mine = [line for line in lines if line.startswith(protocol)]  # computer's lateness
            theirs = [line for line in shown if line.startswith(protocol)]
            self.assertEqual(len(mine), 2)
            self.assertRegex(mine[1], "^" + re.escape(theirs[1]).replace(r"0\.10\ s", r"0\.1[0-4]\ s") + "$")
        ladders = "\n".join(lines).split("\n\n")
        # Arrow by arrow as the README's, up to the server's first FIN: what follows
        # depends on when the client's network went away.
        self.assertEqual(ladder_arrows(ladders[0].splitlines())[:11], ladder_arrows(shown)[:11])
        self.assertEqual(ladder_arrows(ladders[1].splitlines()), [("C", "datagram, 48 bytes, held"),
                                                                  ("S", "datagram, 48 bytes")])

    @exercise(14)
    def test_reordered_datagrams_arrive_out_of_order_and_tcp_reads_in_order(self):
        self.assertEqual(self.run_lab("wire/impair.yml", "wire/capture.yml", reorder_every=4), [0, 0])
        many, logs, long, down, _ = [args for _, args in wire_commands("## Order")][1:]
        self.assertEqual(self.run_the_readme("## Order", many[:4]), many)
        self.compose(*many, **self.options)
        shown = wire_block("## Order", "Data:")
        wait_until(lambda: len([line for line in self.log("udp-server") if line.startswith("Data:")]) == 11,
                   10, "eleven datagrams at udp-server")
        got = self.compose(*logs, **self.options).stdout.splitlines()
        self.assertEqual([line for line in got if line.startswith("Data:")], shown)
        # The long message: several segments in flight, some overtaken; read in order.
        self.assertEqual(long[4], "MESSAGE=$(seq -s ' ' 3000)")
        message = " ".join(str(n) for n in range(1, 3001))
        self.assertEqual(len(message), 13892)
        done = self.compose(*long[:4], f"MESSAGE={message}", *long[5:], **self.options)
        self.assertEqual(done.stdout.splitlines()[-1], "closing socket")
        received = [line for line in self.log("tcp-server") if line.startswith("Received: ")]
        echoed = "".join(ast.literal_eval(line.split(": ", 1)[1]).decode() for line in received)
        self.assertEqual(echoed, TCP_MESSAGE.decode() + message)
        self.compose(*down, "-t", "1", **self.options)
        _, drawn = self.draw()
        labels = [label for _, label, _ in arrows(drawn["tcp"].split("Note over C,S: connection 2:", 1)[1])]
        self.assertTrue(any("overtaken by 3" in label for label in labels), labels)
        self.assertTrue(any(label.startswith("duplicate ACK") and "SACK" in label for label in labels),
                        labels)
        self.assertRegex(drawn["tcp"].splitlines()[-1], r"^TCP: \d+ overtaken$")
        udp = [label for sender, label, _ in arrows(drawn["udp"].split("Note over C,S: client 2:", 1)[1])
               if sender == "C"]
        self.assertEqual([n for n, label in enumerate(udp, 1) if "overtaken" in label], [4, 8])
        self.assertEqual(drawn["udp"].splitlines()[-2:], ["UDP: 22 datagrams, none lost", "UDP: 2 overtaken"])

    @exercise(15)
    def test_a_datagram_delivered_twice_reaches_udp_twice_and_tcp_once(self):
        self.assertEqual(self.run_lab("wire/impair.yml", "wire/capture.yml", duplicate_every=3), [0, 0])
        self.run_the_readme("## Duplicates", ["down"])
        udp_server = self.log("udp-server")
        once = udp_server_lines(10001, client_address(udp_server[2]))
        self.assertEqual(udp_server, once + once[2:])  # received, printed, answered twice
        shown = wire_block("## Duplicates", "Received")
        self.assertEqual([re.sub(CONTAINER_ADDRESS, "ADDRESS", line) for line in udp_server[2:9]],
                         [re.sub(CONTAINER_ADDRESS, "ADDRESS", line) for line in shown])
        self.assertEqual(sum(line.startswith("Received") for line in self.log("udp-client")), 1)
        tcp_server = self.log("tcp-server")
        # Each chunk once.
        self.assertEqual(tcp_server, tcp_server_lines(10000, client_address(tcp_server[2])))
        self.stop_captures(**self.options)
        lines, drawn = self.draw()
        self.assertEqual(ladder_arrows("\n".join(lines).split("\n\n")[1].splitlines()),
                         ladder_arrows(wire_block("## Duplicates", "seconds udp-client")))
        self.assertEqual(lines[-3:-1], ["UDP: 4 datagrams, none lost", "UDP: 1 copy by the network"])
        tcp = arrows(drawn["tcp"])
        self.assertEqual(tcp[:2], [("C", "SYN", False), ("C", "SYN, the network's copy", False)])
        copies = [label for _, label, _ in tcp if "copy" in label]
        self.assertGreaterEqual(len(copies), 2)
        self.assertFalse([label for label in copies if "sent again" in label])
        self.assertEqual(drawn["tcp"].splitlines()[-1], f"TCP: {len(copies)} copies by the network")

    def test_impairments_combine_and_the_lab_flows_on_when_impair_py_dies(self):
        self.assertEqual(self.run_lab("wire/impair.yml", "wire/capture.yml", loss_every=4, delay_ms=100,
                                      duplicate_every=5), [0, 0])
        self.assertEqual(self.log("udp-impair")[0],
                         "Impairing udp port 10001: losing 1 in 4, delay 100 ms, copying 1 in 5")
        fates = self.record("tcp")
        self.assertTrue(any(f["lost"] for f in fates) and any(f["copy"] for f in fates))
        self.assertTrue(all(f["held"] >= 0.1 for f in fates if f["way"] == "in" and not f["lost"]))
        # Killed, impair.py holds nothing more: the packets pass untouched, at once. (The
        # clients run from the main file alone: the wire's would wait 30 s for impair.py's
        # port 9001 first.)
        for service in ("tcp-impair", "udp-impair"):
            self.checked("kill", self.container(service))
        for client in ("tcp-client", "udp-client"):
            done = self.compose("run", "--rm", "--no-deps", client, settings=self.options["settings"])
            self.assertNotIn("No reply within 1 s", done.stdout)
        self.assertEqual(sum(line.startswith("Connection from") for line in self.log("tcp-server")), 2)
        self.stop_captures(**self.options)
        _, drawn = self.draw()
        first, second = drawn["tcp"].split("```")[1].split("Note over C,S: connection 2:")
        self.assertRegex(first, r"C-xS: ")  # lost, held and copied, then nothing at all
        self.assertRegex(first, r"held 0\.1\d s")
        self.assertRegex(first, r"the network's copy")
        self.assertNotRegex(second, r"held|lost|copy")

        def handshake(text):  # seconds from the last SYN to the SYN-ACK, on the capture's clock
            found = [(label, float(at)) for at, label in
                     re.findall(r"[CS]-+(?:>>|x)[CS]: ([\d.]+) s, (SYN(?:-ACK)?)\b", text)]
            answer = next(n for n, (label, _) in enumerate(found) if label == "SYN-ACK")
            return found[answer][1] - found[answer - 1][1]

        self.assertGreaterEqual(handshake(first), 0.1)
        self.assertLess(handshake(second), 0.05)

    @exercise(10)
    def test_exercise_10_total_loss_ends_both_clients_with_one_line(self):
        self.assertEqual(self.run_lab("wire/impair.yml", loss_percent=100), [1, 1])
        self.assertEqual(self.log("tcp-client"), ["Connecting to tcp-server port 10000"])
        self.assertEqual(self.log("tcp-client", 2),
                         ["Error: cannot connect to tcp-server port 10000: timed out"])
        sending, waiting = f"Sending {UDP_MESSAGE!r} to udp-server:10001", "Waiting to receive..."
        self.assertEqual(self.log("udp-client"),
                         [sending, waiting, "No reply within 1 s"] * 10 + ["Closing socket"])
        self.assertEqual(self.log("udp-client", 2), [
            "Error: no reply from udp-server:10001 after 10 tries; is the UDP server running?"])
        self.assertEqual(self.log("udp-impair")[0], "Impairing udp port 10001: losing 100 %")
        # The client's kernel resent its SYN, 1 s after the first, then never sooner than
        # the time before (Linux waits 1 s for the first few, or doubles every time).
        tcp = self.log("tcp-impair")[1:]
        self.assertEqual(set(map(lost, tcp)), {Lost("to server", "SYN", 0)})
        self.assertGreaterEqual(len(tcp), 4)
        # Their times, from impair.py's record: seconds since 1970, not times of day.
        times = [fate["time"] for fate in self.record("tcp")]
        self.assertEqual(len(times), len(tcp))
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        self.assertGreaterEqual(gaps[0], 0.9, gaps)
        for shorter, longer in zip(gaps, gaps[1:]):
            self.assertGreaterEqual(longer, shorter * 0.9, gaps)
        self.assertEqual([lost(line) for line in self.log("udp-impair")[1:]],
                         [Lost("to server", "", 48)] * 10)
        self.assertEqual(self.log("tcp-server"), tcp_server_lines(10000, "")[:2])  # no server saw a client
        self.assertEqual(self.log("udp-server"), udp_server_lines(10001, "")[:2])


class FirstCompose(CaptureAndLoss, ClientsBeforeTheirCapture, ABadSetting, OnceOnDocker, unittest.TestCase):
    ENGINE = "Docker"


class SecondCompose(CaptureAndLoss, ABadSetting, unittest.TestCase):
    ENGINE = "the other Compose"


class RootfulPodman(CaptureAndLoss, ClientsBeforeTheirCapture, unittest.TestCase):
    ENGINE = "Podman"


class RootlessPodman(CaptureAndLoss, ClientsBeforeTheirCapture, unittest.TestCase):
    ENGINE = "rootless Podman"


if __name__ == "__main__":
    unittest.main()
