"""The four scripts, run as real processes on free loopback ports (never 10000/10001).

Each class checks one promise of the lab: the handout's exact lines, start order,
no silent loss, clear errors, servers that outlive bad clients, clean stops.
"""
import ast
import os
import re
import signal
import socket
import struct
import sys
import tempfile
import threading
import unittest
from pathlib import Path

import support
from support import (ADDRESS, PYTHON, ROOT, TCP_MESSAGE, UDP_MESSAGE, Script, chunks, fold, free_port,
                     in_private_network, private_network_available, run, start_server, tcp_server_lines,
                     udp_server_lines)

SCRIPTS = ("tcp_server_docker.py", "tcp_client_docker.py",
           "udp_server_docker.py", "udp_client_docker.py")
UDP = socket.SOCK_DGRAM


def tcp_server(test):
    port = free_port()
    return port, start_server(test, "tcp_server_docker.py", LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)


def udp_server(test):
    port = free_port(UDP)
    return port, start_server(test, "udp_server_docker.py", LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)


def tcp_client_lines(port, message=TCP_MESSAGE):
    return support.tcp_client_lines("localhost", port, message)


def udp_client_lines(port, message=UDP_MESSAGE):
    return support.udp_client_lines("localhost", port, f"('127.0.0.1', {port})", message)


class HandoutOutput(unittest.TestCase):
    """Both exchanges print exactly the handout's lines, each line as soon as it happens."""

    def test_tcp_exchange(self):
        port, server = tcp_server(self)
        self.assertEqual(len(chunks(TCP_MESSAGE)), 6)  # 91 bytes: five chunks of 16, one of 11
        self.assertEqual(run("tcp_client_docker.py", SERVER_PORT=port),
                         (0, tcp_client_lines(port), []))
        server.wait_for(r"Waiting for a connection\.\.\.", count=2)
        client = re.fullmatch(rf"Connection from ({ADDRESS})", server.lines[2]).group(1)
        self.assertEqual(server.lines, tcp_server_lines(port, client))

    def test_udp_exchange(self):
        port, server = udp_server(self)
        self.assertEqual(run("udp_client_docker.py", SERVER_PORT=port),
                         (0, udp_client_lines(port), []))
        server.wait_for(r"Waiting to receive message\.\.\.", count=2)
        client = re.fullmatch(rf"Received 48 bytes from ({ADDRESS})", server.lines[2]).group(1)
        self.assertEqual(server.lines, udp_server_lines(port, client))

    def test_message_comes_from_the_environment(self):
        message = "¡Hola, Oviedo! Socket lab, 2.2"  # not ASCII: sent as UTF-8 bytes
        tcp_port, _ = tcp_server(self)
        udp_port, _ = udp_server(self)
        self.assertEqual(run("tcp_client_docker.py", SERVER_PORT=tcp_port, MESSAGE=message),
                         (0, tcp_client_lines(tcp_port, message.encode()), []))
        self.assertEqual(run("udp_client_docker.py", SERVER_PORT=udp_port, MESSAGE=message),
                         (0, udp_client_lines(udp_port, message.encode()), []))


class StartOrder(unittest.TestCase):
    """A client started before its server waits for it (with no server at all, it gives up:
    test_lessons.TenSecondWaits)."""

    def test_tcp_client_waits_for_a_late_server(self):
        port = free_port()
        client = Script("tcp_client_docker.py", SERVER_PORT=port)
        self.addCleanup(client.stop)
        client.wait_for(f"Connecting to localhost port {port}")
        start_server(self, "tcp_server_docker.py", LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
        self.assertEqual(client.wait(timeout=15), 0)
        self.assertEqual((client.lines, client.errors), (tcp_client_lines(port), []))

    def test_udp_client_resends_until_a_late_server_answers(self):
        port = free_port(UDP)
        client = Script("udp_client_docker.py", SERVER_PORT=port)
        self.addCleanup(client.stop)
        client.wait_for("No reply within 1 s", timeout=5)
        start_server(self, "udp_server_docker.py", LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
        self.assertEqual(client.wait(timeout=15), 0)
        self.assertEqual(client.lines[-3:], udp_client_lines(port)[-3:])

    def test_udp_client_ignores_a_datagram_that_is_not_from_the_server(self):
        """Anybody may send to the client's port (here: the very echo, from another port):
        the client ignores it and sends again, until the server's own reply comes."""
        port = free_port(UDP)
        with socket.socket(socket.AF_INET, UDP) as server, socket.socket(socket.AF_INET, UDP) as other:
            server.bind(("127.0.0.1", port))
            server.settimeout(10)
            client = Script("udp_client_docker.py", SERVER_PORT=port)
            self.addCleanup(client.stop)
            data, sender = server.recvfrom(65535)
            other.sendto(data, sender)
            data, sender = server.recvfrom(65535)  # sent again
            server.sendto(data, sender)
            self.assertEqual(client.wait(timeout=15), 0)
            stray = f"Ignored a datagram from ('127.0.0.1', {other.getsockname()[1]})"
        first = udp_client_lines(port)
        self.assertEqual(client.lines, [*first[:2], stray, *first])
        self.assertIn("(`Ignored a datagram from ...`, then the client sends again)",
                      fold((ROOT / "README.md").read_text(encoding="utf-8")))


def fake_tcp_server(test, reply):
    """A one-shot server in this process: reads the message, answers reply(message), closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    test.addCleanup(listener.close)

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(10)
            received = b""
            while len(received) < len(TCP_MESSAGE):
                data = connection.recv(4096)
                if not data:  # the client hung up early: nothing to answer
                    return
                received += data
            connection.sendall(reply(received))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    test.addCleanup(thread.join, 10)
    return listener.getsockname()[1]


class EchoCheck(unittest.TestCase):
    """The TCP client exits 0 only if every byte came back in order, and never loops for ever."""

    def test_server_that_closes_early(self):
        port = fake_tcp_server(self, lambda message: message[:5])
        code, out, err = run("tcp_client_docker.py", timeout=15, SERVER_PORT=port)
        self.assertEqual((code, out[-2:], err), (1, ["received b'This '", "closing socket"], [
            "Error: the server closed the connection after 5 of 91 bytes"]))

    def test_server_that_echoes_other_bytes(self):
        port = fake_tcp_server(self, lambda message: message.upper())
        code, out, err = run("tcp_client_docker.py", timeout=15, SERVER_PORT=port)
        self.assertEqual((code, err), (1, ["Error: the echo is not the message that was sent"]))
        self.assertEqual(len([line for line in out if line.startswith("received ")]), 6)


class Datagrams(unittest.TestCase):
    """No silent loss: the largest and the empty datagram both come back whole."""

    def exchange(self, message):
        port, server = udp_server(self)
        self.assertEqual(run("udp_client_docker.py", SERVER_PORT=port, MESSAGE=message),
                         (0, udp_client_lines(port, message.encode()), []))
        server.wait_for(rf"Received {len(message)} bytes from {ADDRESS}")

    def test_largest_ipv4_datagram(self):
        self.exchange("x" * 65507)

    def test_empty_datagram(self):
        self.exchange("")

    def test_datagram_too_large_for_ipv4(self):
        port = free_port(UDP)
        code, _, err = run("udp_client_docker.py", SERVER_PORT=port, MESSAGE="x" * 65508)
        self.assertEqual((code, len(err)), (1, 1), err)
        self.assertRegex(err[0], rf"^Error: cannot send to localhost:{port}: .*Message too long$")


class BadSettings(unittest.TestCase):
    """A bad setting ends in one clear line on stderr and exit code 1, never a traceback."""

    PORT_VARIABLES = (("tcp_server_docker.py", "LISTEN_PORT"), ("udp_server_docker.py", "LISTEN_PORT"),
                      ("tcp_client_docker.py", "SERVER_PORT"), ("udp_client_docker.py", "SERVER_PORT"))

    def test_port_that_is_not_a_port_number(self):
        for script, variable in self.PORT_VARIABLES:
            for value in ("abc", "0", "65536", "-1", "", "1e3", "²", " 80"):
                with self.subTest(script=script, value=value):
                    self.assertEqual(run(script, **{variable: value}), (1, [], [
                        f"Error: {variable} must be a number from 1 to 65535, not {value!r}"]))

    def test_port_already_in_use(self):
        for start, script in ((tcp_server, "tcp_server_docker.py"), (udp_server, "udp_server_docker.py")):
            with self.subTest(script):
                port, _ = start(self)
                code, out, err = run(script, LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
                self.assertEqual((code, out, len(err)), (1, [], 1), err)
                self.assertRegex(err[0], rf"^Error: cannot listen on 127\.0\.0\.1 port {port}: "
                                         r".*Address already in use$")


@unittest.skipUnless(private_network_available(), "needs Linux network namespaces (unshare, ip)")
class PrivateNetwork(unittest.TestCase):
    """Tests that need the lab's default ports or a name lookup run in their own network
    namespace: a running lab cannot collide with them, and no query can leave the machine."""

    def test_unknown_host(self):
        for script, variable in (("tcp_server_docker.py", "LISTEN_HOST"),
                                 ("udp_server_docker.py", "LISTEN_HOST"),
                                 ("tcp_client_docker.py", "SERVER_HOST"),
                                 ("udp_client_docker.py", "SERVER_HOST")):
            with self.subTest(script):
                done = in_private_network(f'exec "$PYTHON" {script}',
                                          **{variable: "no-such-host.invalid"})
                self.assertEqual(done.returncode, 1)
                errors = done.stderr.splitlines()
                self.assertEqual(len(errors), 1, done.stderr)
                self.assertRegex(errors[0],
                                 r"^Error: cannot (listen on|connect to|send to) no-such-host\.invalid")

    def test_defaults_work_together_even_where_localhost_is_ipv6_first(self):
        with tempfile.TemporaryDirectory() as folder:
            hosts = Path(folder, "hosts")
            hosts.write_text("::1 localhost\n127.0.0.1 localhost\n")
            done = in_private_network(f"""
                mount --bind {hosts} /etc/hosts
                "$PYTHON" -c 'import socket; print(socket.getaddrinfo("localhost", 1)[0][4][0])'
                "$PYTHON" tcp_server_docker.py > {folder}/tcp & tcp=$!
                "$PYTHON" udp_server_docker.py > {folder}/udp & udp=$!
                "$PYTHON" tcp_client_docker.py > /dev/null && echo "TCP client: 0"
                "$PYTHON" udp_client_docker.py > /dev/null && echo "UDP client: 0"
                kill $tcp $udp && wait""")
            self.assertEqual(done.stdout.splitlines(), ["::1", "TCP client: 0", "UDP client: 0"],
                             done.stderr)
            for log, first_line in (("tcp", "Starting TCP server on port 10000"),
                                    ("udp", "Starting UDP server on port 10001")):
                self.assertEqual(Path(folder, log).read_text().splitlines()[0], first_line)


class MisbehavingClients(unittest.TestCase):
    """Servers outlive clients that misbehave, and serve the next one normally."""

    def assert_next_client_is_served(self, script, port):
        code, out, err = run(script, SERVER_PORT=port)
        self.assertEqual((code, err), (0, []))
        self.assertIn(out[-1], ("closing socket", "Closing socket"))

    def test_tcp_client_that_hangs_up_at_once_resets_or_sends_garbage(self):
        port, server = tcp_server(self)
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        server.wait_for(r"No more data from .*")

        rude = socket.create_connection(("127.0.0.1", port), timeout=5)
        rude.sendall(b"half a message")
        server.wait_for(r"Sending data back to client")
        rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        rude.close()  # linger 0: the kernel sends RST instead of FIN
        server.wait_for(r"Dropped the client: \[Errno \d+\] Connection reset by peer")

        garbage = bytes(range(256)) * 3
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(garbage)
            raw.shutdown(socket.SHUT_WR)
            echo = b"".join(iter(lambda: raw.recv(4096), b""))
        self.assertEqual(echo, garbage)
        self.assert_next_client_is_served("tcp_client_docker.py", port)

    def test_udp_garbage_and_a_client_that_leaves_before_the_echo(self):
        port, server = udp_server(self)
        garbage = bytes(range(256)) * 3
        with socket.socket(socket.AF_INET, UDP) as raw:
            raw.settimeout(5)
            raw.sendto(garbage, ("127.0.0.1", port))
            self.assertEqual(raw.recvfrom(65535)[0], garbage)
        with socket.socket(socket.AF_INET, UDP) as gone:
            gone.sendto(b"nobody will read the echo", ("127.0.0.1", port))
        server.wait_for(r"Sending acknowledgement back to .*", count=2)
        self.assert_next_client_is_served("udp_client_docker.py", port)


class Stopping(unittest.TestCase):
    """Ctrl-C (SIGINT, also what Docker sends: the Dockerfile's STOPSIGNAL) ends a server
    within a second: closing line, exit 0."""

    SERVERS = ((tcp_server, "TCP"), (udp_server, "UDP"))

    def assert_stops(self, server, name, signum):
        server.signal(signum)
        self.assertEqual(server.wait(timeout=2), 0)
        self.assertEqual((server.lines[-1], server.errors), (f"Stopping {name} server", []))

    def test_ctrl_c(self):
        for start, name in self.SERVERS:
            with self.subTest(name=name):
                _, server = start(self)
                self.assert_stops(server, name, signal.SIGINT)

    def test_tcp_server_stopped_mid_conversation_restarts_at_once_on_the_same_port(self):
        port, server = tcp_server(self)
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(client.close)
        server.wait_for(r"Connection from .*")
        self.assert_stops(server, "TCP", signal.SIGINT)  # the server closes first: TIME_WAIT
        start_server(self, "tcp_server_docker.py", LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
        self.assertEqual(run("tcp_client_docker.py", SERVER_PORT=port)[0], 0)

    @unittest.skipUnless(private_network_available(), "needs Linux namespaces (unshare)")
    def test_server_that_is_pid_1_still_stops_on_sigint(self):
        # As in a container: the kernel gives PID 1 only the signals it has a handler
        # for, and Python has one for SIGINT, the Dockerfile's STOPSIGNAL.
        for name, kind in (("TCP", socket.SOCK_STREAM), ("UDP", UDP)):
            with self.subTest(name):
                script = f"{name.lower()}_server_docker.py"
                port = free_port(kind)
                wrapper = Script(script, command=["unshare", "--map-root-user", "--pid", "--fork",
                                                  "--kill-child", PYTHON, str(ROOT / script)],
                                 LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
                self.addCleanup(wrapper.stop)
                wrapper.wait_for(r"Waiting for a connection\.\.\.|Waiting to receive message\.\.\.")
                children = Path(f"/proc/{wrapper.process.pid}/task/{wrapper.process.pid}/children")
                server_pid = int(children.read_text().split()[0])
                status = Path(f"/proc/{server_pid}/status").read_text()
                self.assertRegex(status, r"NSpid:\s+\d+\s+1\n")  # it really is PID 1 in there
                os.kill(server_pid, signal.SIGINT)
                self.assertEqual(wrapper.wait(timeout=2), 0)
                self.assertEqual(wrapper.lines[-1], f"Stopping {name} server")


class StandAlone(unittest.TestCase):
    """Each script can be copied alone: standard library only, Python 3.8 syntax."""

    def test_standard_library_only_and_python_3_8_syntax(self):
        for script in SCRIPTS:
            with self.subTest(script):
                tree = ast.parse((ROOT / script).read_text(encoding="utf-8"), feature_version=(3, 8))
                imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                            if isinstance(node, ast.Import) for alias in node.names}
                imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
                if sys.version_info >= (3, 10):
                    self.assertLessEqual(imported, set(sys.stdlib_module_names))
                self.assertLessEqual(imported, {"os", "select", "signal", "socket", "sys", "time"})

    def test_every_line_fits_a_projector(self):
        """PEP 8's 79 columns: on a projector, at a size the back row can read, longer lines wrap."""
        for script in SCRIPTS:
            lines = (ROOT / script).read_text(encoding="utf-8").splitlines()
            with self.subTest(script):
                self.assertEqual([n for n, line in enumerate(lines, 1) if len(line) > 79], [])
                self.assertLess(len(lines), 80)


if __name__ == "__main__":
    unittest.main()
