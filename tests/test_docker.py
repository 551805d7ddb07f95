"""The lab as the lecturer runs it: the image built and the four containers run by a real
Docker engine, with Compose v2 (`docker compose`) and legacy `docker-compose`, each
installed one in turn.

Without a Docker engine these tests are skipped; with REQUIRE_DOCKER=1 they fail instead,
and both Compose flavours must be installed. Each run uses its own project name, and it
stops, rather than take over, when a lab (tcp-server, udp-server, socket-network) exists.
"""
import collections
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from support import (ROOT, TCP_MESSAGE, UDP_MESSAGE, Script, compose_commands, docker,
                     docker_engine_answers, run, wait_until)

REQUIRED = os.environ.get("REQUIRE_DOCKER") == "1"
COMPOSE = compose_commands() if docker_engine_answers() else {}
LAB_NAMES = ("tcp-server", "udp-server")  # the fixed names of docker-compose.yml
NETWORK = "socket-network"
ADDRESS = r"\('\d+\.\d+\.\d+\.\d+', \d+\)"  # a container's (host, port)
SLOW_STOP = 10  # seconds: Docker's kill timeout, what a server that ignores SIGTERM costs


README = (ROOT / "README.md").read_text(encoding="utf-8")
_RUN = README.split("### One run, packet by packet", 1)[1].split("\n## ", 1)[0]
_BLOCKS = dict(zip(("tcp-loss", "tcp-capture", "udp-loss", "udp-client"),
                   [*re.findall(r"```console\n(.*?)```", _RUN, re.DOTALL),
                    *re.findall(r"```text\n(.*?)```", _RUN, re.DOTALL)]))
README_RUN = {name: block.splitlines() for name, block in _BLOCKS.items()}  # the README's loss run

Packet = collections.namedtuple("Packet", "direction flags seq length")


def packet(line):
    """What a reader compares in one of tcpdump's lines (times, addresses and ports aside)."""
    found = re.fullmatch(r"\s*(?:\d+ )?[\d:.]+ IP [\d.]+\.\d+ > [\d.]+\.(\d+): (.*)", line)
    if not found:
        raise AssertionError(f"not a packet of tcpdump's: {line!r}")
    port, rest = found.groups()
    flags = re.match(r"Flags \[([^\]]*)\]", rest)
    seq = re.search(r"seq (\d+:\d+)", rest)
    return Packet("to server" if port in ("10000", "10001") else "to client",
                  flags.group(1) if flags else rest.split(",")[0],
                  seq and seq.group(1), int(re.search(r"length (\d+)$", rest).group(1)))


def lab_copy(test, owner):
    """A copy of the lab as a fresh clone owned by uid `owner` has it; removed after the test."""
    folder = tempfile.mkdtemp(prefix="socketlab-clone-")
    test.addCleanup(shutil.rmtree, folder, ignore_errors=True)
    copy = shutil.copytree(ROOT, os.path.join(folder, "lab"), ignore=shutil.ignore_patterns(
        ".git", ".ci", "tests", "__pycache__", ".ruff_cache", ".venv", "*.pcap"))
    for directory, names, files in os.walk(copy):
        for name in [directory, *(os.path.join(directory, f) for f in names + files)]:
            os.lchown(name, owner, owner)
    return Path(copy)


def logged_at(line):
    """The time of a `docker logs --timestamps` line. Docker trims the nanoseconds'
    trailing zeros, so the stamps must be read as times, not compared as text."""
    whole, _, fraction = line.split(" ", 1)[0].rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(whole) + datetime.timedelta(
        microseconds=int((fraction + "000000")[:6]))


def connect_or_none(address):
    try:
        return socket.create_connection(address, timeout=2)
    except OSError:
        return None


def existing_lab():
    """What of a lab exists already: containers with the fixed names, the network."""
    found = [name for name in LAB_NAMES
             if docker("ps", "-aq", "--filter", f"name=^/{name}$")[1].strip()]
    if docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$")[1].strip():
        found.append(f"network {NETWORK}")
    return found


def setUpModule():
    if not COMPOSE or (REQUIRED and len(COMPOSE) < 2):
        reason = ("no Docker engine answers `docker info`" if not docker_engine_answers()
                  else f"Compose flavours found: {sorted(COMPOSE) or 'none'}")
        if REQUIRED:
            raise AssertionError(f"REQUIRE_DOCKER=1, but {reason}")
        if not COMPOSE:
            raise unittest.SkipTest(f"{reason}; start Docker to run these tests")
    found = existing_lab()
    if found:
        raise AssertionError(f"a lab is already running here ({', '.join(found)}); these tests "
                             "will not take it over: stop it with `docker compose down` first")


def server_lines(name, client):
    if name == "tcp-server":
        lines = ["Starting TCP server on port 10000", "Waiting for a connection...",
                 f"Connection from {client}"]
        for i in range(0, len(TCP_MESSAGE), 16):
            lines += [f"Received: {TCP_MESSAGE[i:i + 16]!r}", "Sending data back to client"]
        return [*lines, f"No more data from {client}, closing the connection",
                "Waiting for a connection..."]
    return ["Starting UDP server on port 10001", "Waiting to receive message...",
            f"Received 48 bytes from {client}", f"Data: {UDP_MESSAGE!r}",
            f"Sending acknowledgement back to {client}", "Waiting to receive message..."]


class Lab:
    """Runs the lab with one Compose flavour; the test classes at the end of this file."""

    FLAVOUR = None

    @classmethod
    def setUpClass(cls):
        if cls.FLAVOUR not in COMPOSE:
            raise unittest.SkipTest(f"{cls.FLAVOUR} is not installed")
        cls.project = f"socketlabtest{os.getpid()}{cls.__name__.lower()}"

    def compose(self, *args, files=(), folder=ROOT, settings=None, timeout=120, check=True):
        """Run Compose on the lab in `folder`, with extra compose `files` and `settings`
        (environment variables, as a student would set them in front of the command)."""
        files = [word for name in files for word in ("-f", name)]
        if files:
            files = ["-f", "docker-compose.yml", *files]
        done = subprocess.run([*COMPOSE[self.FLAVOUR], "-p", self.project, *files, *args], cwd=folder,
                              env={**os.environ, **(settings or {})}, capture_output=True,
                              encoding="utf-8", timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def up(self, *args, **options):
        """`up --build -d`, torn down with `down` when the test ends."""
        self.addCleanup(self.compose, "down", "--timeout", "2", check=False, **options)
        self.compose("up", "--build", "-d", *args, **options)

    def containers(self, *services, status=None):
        """The IDs of the services' containers (no service: all of them), in any state or in one.

        One `docker ps`, not `compose ps`: legacy Compose inspects every container it lists,
        and fails ("No such container") when an `up` running beside it is creating one.
        """
        code, out, err = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
                                "--filter", "label=com.docker.compose.oneoff=False",
                                *(["--filter", f"status={status}"] if status else []),
                                "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}')
        self.assertEqual(code, 0, err)
        return [container for container, service in map(str.split, out.splitlines())
                if not services or service in services]

    def state(self, container):
        code, out, err = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container)
        self.assertEqual(code, 0, err)
        return tuple(out.split())

    def wait_for_clients(self, *services, count=1):
        """Wait until every client container has exited; return their exit codes."""
        def exited():
            ids = [c for service in services for c in self.containers(service, status="exited")]
            return len(ids) == count * len(services) and [int(self.state(c)[1]) for c in ids]
        return wait_until(exited, 60, f"clients {services} exiting")

    def log(self, container, stream=1):
        """What a container printed: its stdout lines, or its stderr lines (stream=2)."""
        code, out, err = docker("logs", container)
        self.assertEqual(code, 0, err)
        return (out if stream == 1 else err).splitlines()

    def service_log(self, service, stream=1):
        return self.log(self.containers(service)[0], stream)


class LabTests(Lab):
    """The lab as the handout runs it; one test class for each Compose flavour."""

    def test_lab_runs_as_the_handout_shows(self):
        self.up()
        self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [0, 0])

        tcp_client = self.log(self.containers("tcp-client")[0])
        self.assertEqual(tcp_client[:2], ["Connecting to tcp-server port 10000",
                                          f"sending {TCP_MESSAGE!r}"])
        self.assertEqual(tcp_client[2:], [f"received {TCP_MESSAGE[i:i + 16]!r}"
                                          for i in range(0, 91, 16)] + ["closing socket"])
        udp_client = self.log(self.containers("udp-client")[0])
        self.assertEqual(udp_client[0], f"Sending {UDP_MESSAGE!r} to udp-server:10001")
        self.assertRegex(udp_client[-3], rf"^Received 48 bytes from {ADDRESS}$")
        self.assertEqual(udp_client[-2:], [f"Data: {UDP_MESSAGE!r}", "Closing socket"])

        # The servers keep running, and their logs hold only the clients' traffic:
        # exactly one connection and one datagram, from a container's address.
        for name in LAB_NAMES:
            self.assertEqual(self.state(name), ("running", "0"))
            log = self.log(name)
            client = re.fullmatch(rf"(?:Connection from|Received 48 bytes from) ({ADDRESS})",
                                  log[2]).group(1)
            self.assertEqual(log, server_lines(name, client))

        # The handout's other commands, as written.
        follow = Script(None, command=[*COMPOSE[self.FLAVOUR], "-p", self.project,
                                       "logs", "-f", "tcp-server"])
        self.addCleanup(follow.stop)
        follow.wait_for(r".*tcp-server.*\|.*Starting TCP server on port 10000", timeout=30)
        stamped = [line for line in self.compose("logs", "--no-color", "--timestamps").stdout.splitlines()
                   if "|" in line]  # legacy Compose begins with "Attaching to ..."
        self.assertEqual(len(stamped), sum(len(self.log(c)) for c in self.containers()))
        for line in stamped:
            self.assertRegex(line, r"\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        code, out, err = docker("exec", "tcp-server", "bash", "-c", "id -u && ls /lab")
        self.assertEqual((code, out.split()), (0, ["65534", "tcp_client_docker.py",
                         "tcp_server_docker.py", "udp_client_docker.py", "udp_server_docker.py"]), err)
        # The image runs the Python its FROM line names (the wire image shares that base).
        base = {re.search(r"^FROM (\S+)", (ROOT / name).read_text(), re.MULTILINE).group(1)
                for name in ("Dockerfile", "wire/Dockerfile")}
        self.assertEqual(len(base), 1, base)
        code, out, err = docker("exec", "tcp-server", "python", "--version")
        self.assertEqual(code, 0, err)
        print(f"\n    the image's {out.strip()}, FROM {base}", end=" ")
        self.assertEqual(re.match(r"Python (\d+\.\d+)\.", out).group(1),
                         re.fullmatch(r"python:(\d+\.\d+)-slim", base.pop()).group(1))
        code, out, err = docker("network", "inspect", NETWORK)
        self.assertEqual(code, 0, err)
        network = json.loads(out)[0]
        self.assertEqual(network["Driver"], "bridge")
        self.assertLessEqual(set(LAB_NAMES), {c["Name"] for c in network["Containers"].values()})

        # A client on this computer reaches the servers through the published ports.
        self.assertEqual(run("tcp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)
        self.assertEqual(run("udp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)
        for container in [c for name in ("tcp-server", "udp-server") for c in self.containers(name)]:
            code, out, _ = docker("port", container)
            self.assertEqual(code, 0)
            for mapping in out.splitlines():  # published on the loopback only
                self.assertRegex(mapping, r"-> 127\.0\.0\.1:1000[01]$")

    def test_only_tcp_and_only_udp(self):
        for pair in (("tcp-server", "tcp-client"), ("udp-server", "udp-client")):
            with self.subTest(pair):
                self.up(*pair)
                self.assertEqual(self.wait_for_clients(pair[1]), [0])
                services = [docker("inspect", "-f", '{{index .Config.Labels "com.docker.compose.service"}}',
                                   container)[1].strip() for container in self.containers()]
                self.assertEqual(sorted(services), sorted(pair))
                self.compose("down", "--timeout", "2")

    def test_several_tcp_clients_take_turns(self):
        self.up("--scale", "tcp-client=3", "tcp-server", "tcp-client")
        self.assertEqual(self.wait_for_clients("tcp-client", count=3), [0, 0, 0])
        self.assertEqual(sum(line.startswith("Connection from") for line in self.log("tcp-server")), 3)

    def test_stop_restart_and_down_are_quick_and_clean(self):
        self.up()
        self.wait_for_clients("tcp-client", "udp-client")
        started = time.monotonic()
        self.compose("stop", "tcp-server")
        self.assertLess(time.monotonic() - started, SLOW_STOP / 2)
        self.assertEqual(self.state("tcp-server"), ("exited", "0"))
        self.assertEqual(self.log("tcp-server")[-1], "Stopping TCP server")

        self.compose("up", "--build", "-d", "tcp-server")  # as after changing the script
        wait_until(lambda: self.state("tcp-server")[0] == "running", 30, "tcp-server restarting")

        started = time.monotonic()
        self.compose("down", "-v")
        self.assertLess(time.monotonic() - started, SLOW_STOP / 2)
        self.assertEqual(self.containers(), [])
        self.assertEqual(existing_lab(), [])

    def test_ctrl_c_on_an_attached_up(self):
        self.addCleanup(self.compose, "down", "--timeout", "2", check=False)
        attached = subprocess.Popen([*COMPOSE[self.FLAVOUR], "-p", self.project, "up", "--build"],
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(attached.kill)
        self.wait_for_clients("tcp-client", "udp-client")
        started = time.monotonic()
        attached.send_signal(signal.SIGINT)
        attached.wait(timeout=SLOW_STOP * 2)
        self.assertLess(time.monotonic() - started, SLOW_STOP / 2)
        for name, closing in (("tcp-server", "Stopping TCP server"), ("udp-server", "Stopping UDP server")):
            self.assertEqual(self.state(name), ("exited", "0"))
            self.assertEqual(self.log(name)[-1], closing)

    def test_an_existing_tcp_server_container_is_not_taken_over(self):
        base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE).group(1)
        code, foreign, err = docker("create", "--name", "tcp-server", base, "true")
        self.assertEqual(code, 0, err)
        self.addCleanup(docker, "rm", "-f", foreign.strip())
        self.addCleanup(self.compose, "down", "--timeout", "2", check=False)
        self.assertIn("tcp-server", existing_lab())  # what setUpModule checks before any test
        refused = self.compose("up", "-d", "tcp-server", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("tcp-server", refused.stderr)
        self.assertEqual(docker("inspect", "-f", "{{.Id}}", "tcp-server")[1].strip(), foreign.strip())


class WireTests(Lab):
    """wire/: the capture and the loss, each in its server's network namespace."""

    def assert_least_privilege(self, service, capabilities, server):
        """Not privileged, every capability dropped but these, in the server's namespace."""
        container = self.containers(service)[0]
        code, out, err = docker("inspect", "-f", "{{json .HostConfig}}", container)
        self.assertEqual(code, 0, err)
        host = json.loads(out)
        self.assertEqual([c.replace("CAP_", "") for c in host["CapDrop"]], ["ALL"])
        self.assertEqual({c.replace("CAP_", "") for c in host["CapAdd"]}, capabilities)
        self.assertFalse(host["Privileged"])
        server_id = docker("inspect", "-f", "{{.Id}}", server)[1].strip()
        self.assertIn(host["NetworkMode"], (f"container:{server_id}", f"container:{server}"))

    def process_status(self, service):
        """/proc/1/status of a service's container: its user ids and capabilities."""
        code, out, err = docker("exec", self.containers(service)[0], "cat", "/proc/1/status")
        self.assertEqual(code, 0, err)
        return dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)

    def read_capture(self, folder, name, owner):
        """The capture image itself reads a pcap file back, as the file's owner."""
        code, out, err = docker("run", "--rm", "--user", f"{owner}:{owner}", "-v",
                                f"{folder / 'wire' / 'captures'}:/captures:ro", "socket-lab-wire",
                                "tcpdump", "-r", f"/captures/{name}", "-n")
        self.assertEqual(code, 0, err)
        return out.splitlines()

    def stop_captures(self, options):
        """Wait for the server's FIN in the live view, then stop both captures."""
        wait_until(lambda: any("Flags [F" in line and ".10000 > " in line
                               for line in self.service_log("tcp-capture")), 20,
                   "the live view showing the server's FIN")
        self.compose("stop", "tcp-capture", "udp-capture", **options)

    def test_capture_files_belong_to_whoever_owns_the_clone(self):
        self.assertNotRegex(self.compose("config", "--services").stdout, "capture|loss")  # opt-in
        owners = (0, 1234) if os.getuid() == 0 else (os.getuid(),)
        for owner in owners:
            with self.subTest(owner=owner):
                folder = lab_copy(self, owner)
                options = {"files": ["wire/capture.yml"], "folder": folder}
                self.up(**options)
                self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [0, 0])
                for service, server, capture_filter in (("tcp-capture", "tcp-server", "tcp port 10000"),
                                                        ("udp-capture", "udp-server", "udp")):
                    self.assert_least_privilege(service, {"NET_RAW", "SETUID", "SETGID"}, server)
                    status = self.process_status(service)
                    self.assertEqual(status["Uid"].split(), [str(owner)] * 4)
                    if owner:  # tcpdump keeps raw sockets (capability 13) and nothing else
                        self.assertEqual(int(status["CapEff"], 16), 1 << 13)
                    command = json.loads(docker("inspect", "-f", "{{json .Config.Cmd}}",
                                                self.containers(service)[0])[1])
                    self.assertEqual(command[-1], capture_filter)  # only the lab's protocol
                self.stop_captures(options)
                for name in ("tcp.pcap", "udp.pcap"):
                    info = (folder / "wire" / "captures" / name).stat()
                    self.assertEqual((info.st_uid, info.st_gid), (owner, owner))
                self.check_a_perfect_exchange(folder, owner)
                self.compose("down", "--timeout", "2", **options)

    def check_a_perfect_exchange(self, folder, owner):
        tcp = self.read_capture(folder, "tcp.pcap", owner)
        packets = [packet(line) for line in tcp]
        to_server = [p for p in packets if p.direction == "to server"]
        self.assertEqual([p.flags for p in packets[:3]], ["S", "S.", "."])  # the handshake first
        self.assertEqual([p.direction for p in packets[:3]], ["to server", "to client", "to server"])
        self.assertEqual([p.length for p in to_server if p.length], [91])
        echo = [p.length for p in packets if p.direction == "to client" and p.length]
        self.assertEqual(sum(echo), 91)
        self.assertGreater(len(echo), 1)  # the echo comes back in several segments
        for direction in ("to server", "to client"):
            self.assertTrue(any("F" in p.flags for p in packets if p.direction == direction))
        udp = [packet(line) for line in self.read_capture(folder, "udp.pcap", owner)]
        self.assertEqual([(p.direction, p.flags, p.length) for p in udp],
                         [("to server", "UDP", 48), ("to client", "UDP", 48)])

    def test_deterministic_loss_with_the_capture_as_the_readme_shows(self):
        folder = lab_copy(self, os.getuid())
        options = {"files": ["wire/loss.yml", "wire/capture.yml"], "folder": folder,
                   "settings": {"LOSS_EVERY": "4", "LOSS_PERCENT": ""}}
        self.up(**options)
        self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [0, 0])
        for service, server in (("tcp-loss", "tcp-server"), ("udp-loss", "udp-server")):
            self.assert_least_privilege(service, {"NET_ADMIN", "SETUID", "SETGID"}, server)

        # The programs print exactly what they print on a perfect network; UDP's resend aside.
        tcp_client = self.service_log("tcp-client")
        self.assertEqual(tcp_client[1:], [f"sending {TCP_MESSAGE!r}"] + [
            f"received {TCP_MESSAGE[i:i + 16]!r}" for i in range(0, 91, 16)] + ["closing socket"])
        for name in LAB_NAMES:
            log = self.log(name)
            client = re.fullmatch(rf"(?:Connection from|Received 48 bytes from) ({ADDRESS})",
                                  log[2]).group(1)
            self.assertEqual(log, server_lines(name, client))
        sending, waiting = f"Sending {UDP_MESSAGE!r} to udp-server:10001", "Waiting to receive..."
        expected = [sending, waiting, "No reply within 1 s", sending, waiting,
                    rf"Received 48 bytes from {ADDRESS}", f"Data: {UDP_MESSAGE!r}", "Closing socket"]
        self.assertEqual(len(README_RUN["udp-client"]), len(expected))
        for real, shown, pattern in zip(self.service_log("udp-client"), README_RUN["udp-client"], expected):
            self.assertRegex(real, "^" + (pattern if "Received" in pattern else re.escape(pattern)) + "$")
            self.assertRegex(shown, "^" + (pattern if "Received" in pattern else re.escape(pattern)) + "$")

        # The capture, packet by packet, is the README's: lost SYN and message resent, the
        # lost ACK covered by the next one, the echo in two segments, the server's FIN resent.
        self.stop_captures(options)
        capture = [packet(line) for line in self.read_capture(folder, "tcp.pcap", os.getuid())]
        shown = [packet(line) for line in README_RUN["tcp-capture"]]
        self.assertEqual(capture[:12], shown[:12])
        self.assertTrue(capture[12:])
        self.assertEqual({(p.direction, p.flags) for p in capture[12:]}, {("to client", "FP.")})
        self.assertEqual([p.seq for p in capture if p.seq == "1:92"], ["1:92", "1:92"])  # resent
        self.assertEqual([p.length for p in capture if p.direction == "to client" and p.length],
                         [16, 75])  # exercise 11: two segments, not six
        udp = [packet(line) for line in self.read_capture(folder, "udp.pcap", os.getuid())]
        self.assertEqual([p.direction for p in udp], ["to server", "to server", "to client"])

        # The drop logs name each packet the rules dropped, as the README shows them.
        for service in ("tcp-loss", "udp-loss"):
            log = self.service_log(service)
            self.assertEqual(log[0], README_RUN[service][0])
            dropped = [packet(line) for line in log[1:]]
            shown = [packet(line) for line in README_RUN[service][1:]]
            self.assertEqual([(p.direction, p.flags, p.length) for p in dropped[:len(shown)]],
                             [(p.direction, p.flags, p.length) for p in shown])
            code, out, err = docker("exec", self.containers(service)[0],
                                    "nft", "list", "table", "ip", "socket_lab_loss")
            self.assertEqual(code, 0, err)
            counted = int(re.search(r"counter packets (\d+) ", out).group(1))
            self.assertLessEqual(len(dropped), counted)
            self.assertLessEqual(counted, len(self.service_log(service)) - 1)

        # Exercise 9: the lost SYN costs the client a second before it can send.
        code, out, err = docker("logs", "--timestamps", self.containers("tcp-client")[0])
        self.assertEqual(code, 0, err)
        times = [logged_at(line) for line in out.splitlines()]
        self.assertGreaterEqual((times[1] - times[0]).total_seconds(), 1.0)
        self.assertLess((times[1] - times[0]).total_seconds(), 2.0)
        self.assertLess((times[-1] - times[1]).total_seconds(), 1.0)

    def test_total_loss_ends_both_clients_with_one_line(self):
        """Exercise 10: LOSS_PERCENT=100."""
        options = {"files": ["wire/loss.yml"], "settings": {"LOSS_PERCENT": "100", "LOSS_EVERY": ""}}
        self.up(**options)
        self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [1, 1])
        self.assertEqual(self.service_log("tcp-client"), ["Connecting to tcp-server port 10000"])
        self.assertEqual(self.service_log("tcp-client", 2),
                         ["Error: cannot connect to tcp-server port 10000: timed out"])
        sending, waiting = f"Sending {UDP_MESSAGE!r} to udp-server:10001", "Waiting to receive..."
        self.assertEqual(self.service_log("udp-client"),
                         [sending, waiting, "No reply within 1 s"] * 10 + ["Closing socket"])
        self.assertEqual(self.service_log("udp-client", 2), [
            "Error: no reply from udp-server:10001 after 10 tries; is the UDP server running?"])
        self.assertEqual(self.service_log("udp-loss")[0],
                         "Losing 100 % of the packets of udp port 10001, at random")
        # The client's kernel resent its SYN, 1 s after the first, then never sooner than
        # the time before (Linux waits 1 s for the first few, or doubles every time).
        tcp = self.service_log("tcp-loss")[1:]
        self.assertEqual({(p.direction, p.flags) for p in map(packet, tcp)}, {("to server", "S")})
        self.assertGreaterEqual(len(tcp), 4)
        times = [datetime.datetime.strptime(line.split()[0], "%H:%M:%S.%f") for line in tcp]
        gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:])]
        self.assertGreaterEqual(gaps[0], 0.9, gaps)
        for shorter, longer in zip(gaps, gaps[1:]):
            self.assertGreaterEqual(longer, shorter * 0.9, gaps)
        udp = [packet(line) for line in self.service_log("udp-loss")[1:]]
        self.assertEqual([(p.direction, p.length) for p in udp], [("to server", 48)] * 10)
        for name in LAB_NAMES:  # no server saw a client
            self.assertEqual(self.log(name), server_lines(name, None)[:2])

    def test_a_bad_loss_setting_stops_everything_with_one_line(self):
        for variable, value, limits in (("LOSS_PERCENT", "abc", "0 to 100"),
                                        ("LOSS_PERCENT", "150", "0 to 100"),
                                        ("LOSS_PERCENT", "-1", "0 to 100"),
                                        ("LOSS_EVERY", "0", "1 to 100")):
            with self.subTest(variable=variable, value=value):
                options = {"files": ["wire/loss.yml"],
                           "settings": {"LOSS_PERCENT": "", "LOSS_EVERY": "", variable: value}}
                self.addCleanup(self.compose, "down", "--timeout", "2", check=False, **options)
                attached = self.compose("up", "--build", check=False, **options)  # as the README runs it
                self.assertNotEqual(attached.returncode, 0)
                line = f"Error: {variable} must be a whole number from {limits}, not '{value}'"
                if self.FLAVOUR == "Compose v2":  # legacy Compose does not show it: see the README
                    self.assertRegex(attached.stdout + attached.stderr,
                                     rf"(?m)^loss-settings-1 +\| {re.escape(line)}$")
                logs = self.compose("logs", "--no-color", "loss-settings", **options).stdout
                self.assertEqual([text.split("| ", 1)[1] for text in logs.splitlines() if "| " in text],
                                 [line])
                for container in self.containers():  # no server, no client ever started
                    started = docker("inspect", "-f", "{{.State.StartedAt}}", container)[1]
                    service = docker("inspect", "-f", '{{index .Config.Labels "com.docker.compose.service"}}',
                                     container)[1].strip()
                    self.assertEqual(service == "loss-settings", not started.startswith("0001-"), service)
                self.assertEqual(self.containers(status="running"), [])
                self.compose("down", "--timeout", "2", **options)


class DockerExercises(Lab):
    """The exercises that run the lab in Docker, once (with the first Compose installed)."""

    def test_exercise_1_clients_queue_behind_a_silent_client(self):
        self.up("tcp-server")
        wait_until(lambda: "Waiting for a connection..." in self.log("tcp-server"), 30, "tcp-server")
        silent = wait_until(lambda: connect_or_none(("127.0.0.1", 10000)), 10, "the silent client")
        self.addCleanup(silent.close)
        wait_until(lambda: any(line.startswith("Connection from") for line in self.log("tcp-server")),
                   10, "the silent client's connection")
        self.compose("up", "-d", "--scale", "tcp-client=3", "tcp-client")  # the README's, detached
        self.assertEqual(self.wait_for_clients("tcp-client", count=3), [0, 0, 0])

        code, out, err = docker("logs", "--timestamps", "tcp-server")
        self.assertEqual(code, 0, err)
        server = [line.split(" ", 1) for line in out.splitlines()]
        texts = [text for _, text in server]
        dropped = texts.index("Dropped the client: timed out")
        self.assertEqual(sum(text.startswith("Connection from") for text in texts[:dropped]), 1)
        self.assertEqual(sum(text.startswith("Connection from") for text in texts[dropped:]), 3)
        # The three had connected and sent before the server dropped the silent one.
        for container in self.containers("tcp-client"):
            client = docker("logs", "--timestamps", container)[1].splitlines()
            sent = next(logged_at(line) for line in client if " sending " in line)
            self.assertLess(sent, logged_at(out.splitlines()[dropped]))
        # The silent client's address is the network's gateway: Docker relays the published port.
        gateway = json.loads(docker("network", "inspect", NETWORK)[1])[0]["IPAM"]["Config"][0]["Gateway"]
        self.assertRegex(texts[2], rf"^Connection from \('{re.escape(gateway)}', \d+\)$")

    def test_exercise_8_a_message_set_in_the_compose_file(self):
        setting = re.search(r"`(MESSAGE: \"[^\"]+\")`", README).group(1)
        folder = lab_copy(self, os.getuid())
        compose_file = folder / "docker-compose.yml"
        text = compose_file.read_text()
        client = text.index("  tcp-client:")
        anchor = text.index("      SERVER_PORT: \"10000\"\n", client)
        compose_file.write_text(text[:anchor] + f"      {setting}\n" + text[anchor:])
        self.up("tcp-server", "tcp-client", folder=folder)
        self.assertEqual(self.wait_for_clients("tcp-client"), [0])
        self.assertEqual(self.service_log("tcp-client"), [
            "Connecting to tcp-server port 10000", "sending b'Hola desde Oviedo'",
            "received b'Hola desde Ovied'", "received b'o'", "closing socket"])  # 17 bytes: 16 and 1
        received = [line for line in self.log("tcp-server") if line.startswith("Received")]
        self.assertEqual(received, ["Received: b'Hola desde Ovied'", "Received: b'o'"])


class ComposeV2(LabTests, WireTests, unittest.TestCase):
    FLAVOUR = "Compose v2"


class LegacyCompose(LabTests, WireTests, unittest.TestCase):
    FLAVOUR = "legacy"


class Exercises(DockerExercises, unittest.TestCase):
    FLAVOUR = next(iter(COMPOSE), "Compose v2")
