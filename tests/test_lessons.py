"""The handout's lessons, checked as the README states them: exercises 2 to 7 (1 and 8,
in containers, are test_lab.py's), a server on one machine with its client on another,
and every promise that takes 10 seconds to see, their waits paid once (TenSecondWaits).

Where an exercise edits a script, the test makes the README's edit on a copy; where it
runs a command, the test runs that command. Those that need the lab's own ports run in
a private network namespace, so a running lab cannot disturb them.
"""
import ast
import re
import signal
import socket
import time
import tempfile
import unittest
from pathlib import Path

from support import (ROOT, TCP_MESSAGE, UDP_MESSAGE, Script, end_group, exercise, fold, free_port,
                     private_network_available, run, start_in_private_network,
                     start_server)
from handout import README, section
from handout import exercise_text as readme_exercise_text

EXERCISES = section(README, "## Exercises")
SILENT_CLIENT = re.search(r'`python3 -c "(import socket, time; s = socket\.create_connection[^"]*)"`',
                          EXERCISES).group(1)  # exercise 1's client that says nothing
UDP = socket.SOCK_DGRAM
IDLE_TIMEOUT = int(re.search(r"^IDLE_TIMEOUT = (\d+)", (ROOT / "tcp_server_docker.py").read_text(),
                             re.MULTILINE).group(1))  # the README's 10 seconds
needs_namespaces = unittest.skipUnless(private_network_available(),
                                       "needs Linux network namespaces (unshare, ip)")

# Shell helpers for the scripts run in a private namespace: wait (bounded) for a line in
# a file, and a UDP and a TCP server started on the lab's default ports.
WAIT_FOR = """
wait_for() {  # wait_for TEXT FILE: at most 20 s
    i=0
    until grep -q "$1" "$2"; do i=$((i + 1)); [ $i -le 200 ] || return 1; sleep 0.1; done
}
"""


# Two network namespaces joined by a veth pair: 192.0.2.1 (the server's machine, where the
# script runs) and 192.0.2.2 (the client's), reached with on_the_other.
TWO_MACHINES = WAIT_FOR + """
        unshare --net sleep 60 & other=$!   # the second machine
        i=0
        while [ "$(readlink /proc/$other/ns/net)" = "$(readlink /proc/$$/ns/net)" ]; do
            i=$((i + 1)); [ $i -le 100 ] || exit 1; sleep 0.05
        done
        ip link add eth0 type veth peer name eth0 netns $other
        ip addr add 192.0.2.1/24 dev eth0 && ip link set eth0 up
        nsenter -t $other -n sh -ec "ip addr add 192.0.2.2/24 dev eth0; ip link set eth0 up"
        on_the_other() { nsenter -t $other -n env SERVER_HOST=192.0.2.1 "$@"; }
"""


def two_machines(listen_host, folder):
    """Both servers on one machine, with LISTEN_HOST as given; both clients on the other.
    Started, not waited for: the logs land in folder, as files named after the services."""
    setting = f"LISTEN_HOST={listen_host}" if listen_host else ""
    return start_in_private_network(TWO_MACHINES + f"""
        {setting} "$PYTHON" {ROOT}/tcp_server_docker.py > tcp-server & servers=$!
        {setting} "$PYTHON" {ROOT}/udp_server_docker.py > udp-server & servers="$servers $!"
        wait_for "Waiting for a connection" tcp-server
        wait_for "Waiting to receive" udp-server
        on_the_other "$PYTHON" {ROOT}/tcp_client_docker.py > tcp-client 2>&1 & tcp=$!
        on_the_other "$PYTHON" {ROOT}/udp_client_docker.py > udp-client 2>&1 & udp=$!
        code=0; wait $tcp || code=$?; echo "tcp client: $code" >> tcp-client
        code=0; wait $udp || code=$?; echo "udp client: $code" >> udp-client
        kill $servers $other""", cwd=folder)


def logs_of(test, started, folder):
    """Wait (bounded) for a two-machine exchange to end; return the four logs. Whatever
    happens, nothing it started outlives the test."""
    test.addCleanup(end_group, started)
    _, stderr = started.communicate(timeout=60)
    test.assertEqual(started.returncode, 0, stderr)
    return {name: Path(folder, name).read_text().splitlines()
            for name in ("tcp-server", "udp-server", "tcp-client", "udp-client")}


def exercise_text(number):
    """The text of one of README.md's exercises, with its indentation and line breaks."""
    return readme_exercise_text(README, number)


def python_blocks(text):
    """The python code blocks of an exercise, without the list's indentation."""
    return [re.sub(r"^ {3}", "", block, flags=re.MULTILINE)
            for block in re.findall(r"^ *```python\n(.*?)^ *```$", text, re.MULTILINE | re.DOTALL)]


# Exercise 2 waits for the idle timeout only to see the silent client dropped: its copy
# of the server waits SHORT_IDLE seconds instead. The README's 10 seconds are checked at
# their real length in TenSecondWaits, where all the 10-second waits are paid at once.
SHORT_IDLE = 2
SHORTER_IDLE_TIMEOUT = (r"\nIDLE_TIMEOUT = 10 ", f"\nIDLE_TIMEOUT = {SHORT_IDLE} ")


def edited_copy(test, script, *replacements):
    """A copy of a script, with each (old, new) replacement made exactly once."""
    text = (ROOT / script).read_text(encoding="utf-8")
    for old, new in replacements:
        found = len(re.findall(old, text))
        test.assertEqual(found, 1, f"{old!r} is in {script} {found} times, not once")
        text = re.sub(old, lambda _, new=new: new, text)
    folder = tempfile.TemporaryDirectory()
    test.addCleanup(folder.cleanup)
    copy = Path(folder.name, script)
    copy.write_text(text, encoding="utf-8")
    return copy


class ExercisesWithoutDocker(unittest.TestCase):
    @exercise(2)
    def test_exercise_2_the_threaded_server_serves_others_while_a_client_is_silent(self):
        serve, loop = python_blocks(exercise_text(2))
        copy = edited_copy(self, "tcp_server_docker.py", SHORTER_IDLE_TIMEOUT,
                           (r"\nimport sys\n", "\nimport sys\nimport threading\n"),
                           (r"\ntry:\n    while True:\n", f"\n{serve}\n\ntry:\n    while True:\n"),
                           (r"(?s)        try:\n            connection, client_address = sock\.accept\(\)\n"
                            r".*?\n            print\(f\"Dropped the client: \{error\}\"\)\n", loop))
        port = free_port()
        server = start_server(self, copy, LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(silent.close)
        # Threads print at once, and a print() writes its text and its newline separately:
        # two lines may come out mixed, as the README warns. So each check finds a line's
        # words anywhere in the output.
        connected, dropped = r".*Connection from .*", r".*Dropped the client: timed out.*"
        server.wait_for(connected)

        # Three clients, one after another, all served while the silent client is connected
        # (the copy would have dropped it after SHORT_IDLE seconds: each client is quicker).
        for _ in range(3):
            code, out, err = run("tcp_client_docker.py", timeout=8, SERVER_PORT=port)
            self.assertEqual((code, out[-2:], err), (0, ["received b'6 at a time'", "closing socket"], []))
        server.wait_for(connected, count=4)  # the silent one and three more
        self.assertFalse(any("Dropped the client" in line for line in server.lines), server.lines)

        # The silent client is still dropped after the idle timeout, and Ctrl-C still stops
        # the server at once though a thread waits for another silent client.
        server.wait_for(dropped, timeout=SHORT_IDLE + 5)
        another = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(another.close)
        server.wait_for(connected, count=5)
        server.signal(signal.SIGINT)
        self.assertEqual(server.wait(timeout=2), 0)
        self.assertEqual((server.lines[-1], server.errors), ("Stopping TCP server", []))
        self.assertIn("Now and then two lines come out mixed", fold(exercise_text(2)))

    @exercise(4)
    def test_exercise_4_the_largest_datagram_and_one_byte_more(self):
        size = int(re.search(r"`MESSAGE=\$\(python3 -c \"print\('x' \* (\d+)\)\"\) "
                             r"python3 udp_client_docker\.py \| grep Received`", exercise_text(4)).group(1))
        port = free_port(socket.SOCK_DGRAM)
        start_server(self, "udp_server_docker.py", LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
        code, out, err = run("udp_client_docker.py", SERVER_PORT=port, MESSAGE="x" * size)
        self.assertEqual((code, len(err)), (1, 1), err)
        self.assertRegex(err[0], r"Message too long$")
        # "with 65,507 it works": one byte less than the command sends.
        self.assertIn(f"With {size - 1:,} it works", fold(exercise_text(4)))
        code, out, err = run("udp_client_docker.py", SERVER_PORT=port, MESSAGE="x" * (size - 1))
        self.assertEqual((code, out[2], err),
                         (0, f"Received {size - 1} bytes from ('127.0.0.1', {port})", []))

    @exercise(5)
    def test_exercise_5_recv_4(self):
        edit = re.search(r"change the line `([^`]+)` to `([^`]+)`", fold(exercise_text(5)))
        old, new = edit.groups()
        self.assertEqual((old, new), ("data = connection.recv(16)", "data = connection.recv(4)"))
        copy = edited_copy(self, "tcp_server_docker.py", (re.escape(old), new))
        port = free_port()
        server = start_server(self, copy, LISTEN_HOST="127.0.0.1", LISTEN_PORT=port)
        code, out, err = run("tcp_client_docker.py", SERVER_PORT=port)
        self.assertEqual((code, err), (0, []))
        pieces = [ast.literal_eval(line.split(" ", 1)[1]) for line in out if line.startswith("received ")]
        self.assertEqual(b"".join(pieces), TCP_MESSAGE)
        self.assertTrue(6 <= len(pieces) <= 23 and max(map(len, pieces)) <= 16, pieces)
        server.wait_for(r"No more data from .*")
        chunks = [ast.literal_eval(line.split(" ", 1)[1]) for line in server.lines
                  if line.startswith("Received: ")]
        self.assertEqual([len(chunk) for chunk in chunks], [4] * 22 + [3])  # "23 chunks"
        self.assertIn("The server now prints 23 chunks (22 of 4 bytes and one of 3)",
                      fold(exercise_text(5)))
        # wire/README.md's sample of one run: 14 segments of 4 bytes, 3 of 8 and 1 of 11 on
        # the wire, 7 `received` lines. Possible: whole 4-byte chunks (the 3-byte one last)
        # that add up to the 91 bytes, and a line count within what this test allows.
        wire = fold((ROOT / "wire" / "README.md").read_text())
        sample = re.search(r"In one run here: (\d+) segments of 4 bytes, (\d+) of 8 and (\d+) of 11, "
                           r"and the client printed (\d+) `received` lines", wire)
        fours, eights, elevens, lines = map(int, sample.groups())
        self.assertEqual((4 * fours + 8 * eights + 11 * elevens, elevens), (91, 1))  # 11 = 4 + 4 + 3
        self.assertTrue(6 <= lines <= 23)


@needs_namespaces
class TenSecondWaits(unittest.TestCase):
    """The promises that take 10 seconds to see: a silent client is dropped (the README's
    IDLE_TIMEOUT, at its real length; and exercise 7 on the lab's port), clients with no
    server give up, and a server on 127.0.0.1 cannot be reached from another machine. All
    start at once, in setUpClass, so the wait is paid once; each test checks its own."""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.server = Script("tcp_server_docker.py", LISTEN_HOST="127.0.0.1", LISTEN_PORT=cls.port)
        cls.addClassCleanup(cls.server.stop)
        cls.server.wait_for(r"Waiting for a connection\.\.\.")
        cls.silent = socket.create_connection(("127.0.0.1", cls.port), timeout=5)
        cls.addClassCleanup(cls.silent.close)
        cls.server.wait_for(r"Connection from .*")
        cls.connected = time.monotonic()
        # Exercise 3: no server at all. Exercise 6: a server, but on another port.
        cls.ports = free_port(), free_port(UDP), free_port()
        cls.clients = [Script(script, SERVER_PORT=port) for script, port in zip(
            ("tcp_client_docker.py", "udp_client_docker.py", "tcp_client_docker.py"), cls.ports)]
        for client in cls.clients:
            cls.addClassCleanup(client.stop)
        if private_network_available():
            cls.folder = tempfile.TemporaryDirectory()
            cls.addClassCleanup(cls.folder.cleanup)
            cls.two_machines = two_machines("127.0.0.1", cls.folder.name)
            cls.addClassCleanup(end_group, cls.two_machines)
            # Exercise 7 on the default port, so in a namespace of its own: the server as it
            # is, and exercise 1's client that says nothing.
            cls.exercise_7 = tempfile.TemporaryDirectory()
            cls.addClassCleanup(cls.exercise_7.cleanup)
            cls.silent_on_the_labs_port = start_in_private_network(WAIT_FOR + f"""
                "$PYTHON" {ROOT / "tcp_server_docker.py"} > server.out & server=$!
                wait_for "Waiting for a connection" server.out
                "$PYTHON" -c "{SILENT_CLIENT}" & silent=$!
                wait_for "Dropped the client" server.out
                kill $server $silent""", cwd=cls.exercise_7.name)
            cls.addClassCleanup(end_group, cls.silent_on_the_labs_port)

    def test_silent_tcp_client_is_dropped_after_the_idle_timeout(self):
        self.server.wait_for(r"Dropped the client: timed out", timeout=IDLE_TIMEOUT + 5)
        self.assertGreater(time.monotonic() - self.connected, IDLE_TIMEOUT - 1)
        self.assertEqual(self.silent.recv(16), b"")  # the server closed its side
        code, out, err = run("tcp_client_docker.py", SERVER_PORT=self.port)  # the next one is served
        self.assertEqual((code, out[-1], err), (0, "closing socket", []))

    @exercise(7)
    @needs_namespaces
    def test_exercise_7_the_silent_client_of_exercise_1_is_dropped(self):
        self.assertIn("After 10 seconds the server prints `Dropped the client: timed out`",
                      fold(exercise_text(7)))
        _, stderr = self.silent_on_the_labs_port.communicate(timeout=IDLE_TIMEOUT + 15)
        self.assertEqual(self.silent_on_the_labs_port.returncode, 0, stderr)
        lines = Path(self.exercise_7.name, "server.out").read_text().splitlines()
        self.assertEqual(lines[:2], ["Starting TCP server on port 10000", "Waiting for a connection..."])
        self.assertRegex(lines[2], r"^Connection from \('127\.0\.0\.1', \d+\)$")
        # Then `kill` (SIGTERM, not Ctrl-C) ends the server with no last line.
        self.assertEqual(lines[3:], ["Dropped the client: timed out", "Waiting for a connection..."])

    @exercise(3, 6)
    def test_clients_with_no_server_give_up_with_one_line(self):
        """They give up after about 10 s (15 s bound the wait)."""
        tcp, udp, wrong = self.clients
        tcp_port, udp_port, wrong_port = self.ports
        self.assertEqual((tcp.wait(timeout=15), udp.wait(timeout=15), wrong.wait(timeout=15)), (1, 1, 1))
        # TCP is refused at once, every time (RST), and retries; UDP hears nothing at all.
        for client, port in ((tcp, tcp_port), (wrong, wrong_port)):
            self.assertEqual((client.lines, client.errors), (
                [f"Connecting to localhost port {port}"],
                [f"Error: no TCP server is listening on localhost port {port}"]))
        sending = f"Sending {UDP_MESSAGE!r} to localhost:{udp_port}"
        self.assertEqual(udp.lines, [sending, "Waiting to receive...", "No reply within 1 s"] * 10
                         + ["Closing socket"])
        self.assertEqual(udp.errors, [f"Error: no reply from localhost:{udp_port} after 10 tries; "
                                      "is the UDP server running?"])
        # SERVER_PORT=abc: a setting that is not a port stops the client before it sends.
        self.assertEqual(run("tcp_client_docker.py", SERVER_PORT="abc"), (1, [], [
            "Error: SERVER_PORT must be a number from 1 to 65535, not 'abc'"]))

    @needs_namespaces
    def test_listen_host_127_0_0_1_is_this_computer_only(self):
        logs = logs_of(self, self.two_machines, self.folder.name)
        self.assertEqual(logs["tcp-client"][-2:], [
            "Error: no TCP server is listening on 192.0.2.1 port 10000", "tcp client: 1"])
        self.assertEqual(logs["udp-client"][-3:], [
            "Closing socket",
            "Error: no reply from 192.0.2.1:10001 after 10 tries; is the UDP server running?",
            "udp client: 1"])
        for server in ("tcp-server", "udp-server"):
            self.assertEqual(len(logs[server]), 2, logs[server])  # started, and nobody came


@needs_namespaces
class TwoMachines(unittest.TestCase):
    """README, "A server on one machine, the client on another" (LISTEN_HOST=127.0.0.1,
    which takes 10 seconds to see, is in TenSecondWaits)."""

    def test_clients_reach_servers_on_another_machine_by_its_address(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        logs = logs_of(self, two_machines(None, folder.name), folder.name)  # default: 0.0.0.0
        self.assertEqual(logs["tcp-client"][0], "Connecting to 192.0.2.1 port 10000")
        self.assertEqual(logs["tcp-client"][-2:], ["closing socket", "tcp client: 0"])
        self.assertEqual(logs["udp-client"][-2:], ["Closing socket", "udp client: 0"])
        self.assertEqual(logs["udp-client"][2], "Received 48 bytes from ('192.0.2.1', 10001)")
        self.assertRegex(logs["tcp-server"][2], r"^Connection from \('192\.0\.2\.2', \d+\)$")
        self.assertRegex(logs["udp-server"][2], r"^Received 48 bytes from \('192\.0\.2\.2', \d+\)$")


if __name__ == "__main__":
    unittest.main()
