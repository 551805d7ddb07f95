"""The lab as the lecturer runs it: the image built and the four containers run by a real
Docker engine, with Compose v2 (`docker compose`) and legacy `docker-compose`, each
installed one in turn.

Without a Docker engine these tests are skipped; with REQUIRE_DOCKER=1 they fail instead,
and both Compose flavours must be installed. Each run uses its own project name, and it
stops, rather than take over, when a lab (tcp-server, udp-server, socket-network) exists.
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from support import (ROOT, TCP_MESSAGE, UDP_MESSAGE, Script, compose_commands, docker,
                     docker_engine_answers, run, wait_until)

REQUIRED = os.environ.get("REQUIRE_DOCKER") == "1"
COMPOSE = compose_commands() if docker_engine_answers() else {}
LAB_NAMES = ("tcp-server", "udp-server")  # the fixed names of docker-compose.yml
NETWORK = "socket-network"
ADDRESS = r"\('\d+\.\d+\.\d+\.\d+', \d+\)"  # a container's (host, port)
SLOW_STOP = 10  # seconds: Docker's kill timeout, what a server that ignores SIGTERM costs


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
    """Shared by one test class for each Compose flavour (see the end of this file)."""

    FLAVOUR = None
    files = ()  # extra compose files, for example the capture

    @classmethod
    def setUpClass(cls):
        if cls.FLAVOUR not in COMPOSE:
            raise unittest.SkipTest(f"{cls.FLAVOUR} is not installed")
        cls.project = f"socketlabtest{os.getpid()}{cls.__name__.lower()}"

    def compose(self, *args, timeout=120, check=True):
        done = subprocess.run([*COMPOSE[self.FLAVOUR], "-p", self.project, *self.files, *args], cwd=ROOT,
                              capture_output=True, encoding="utf-8", timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def up(self, *args):
        """`up --build -d`, torn down with `down` when the test ends."""
        self.addCleanup(self.compose, "down", "--timeout", "2", check=False)
        self.compose("up", "--build", "-d", *args)

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

    def log(self, container):
        code, out, err = docker("logs", container)
        self.assertEqual(code, 0, err)
        return out.splitlines()

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

    def test_capture_records_both_exchanges(self):
        """docker-compose.capture.yml: tcpdump in each server's namespace, NET_RAW only."""
        folder = tempfile.mkdtemp(prefix="socketlab-captures-")
        uid = os.getuid() or 65534  # the capture never runs as root
        os.chown(folder, uid, uid)
        self.addCleanup(subprocess.run, ["rm", "-rf", folder])
        os.environ.update(CAPTURE_DIR=folder, CAPTURE_UID=str(uid))
        self.addCleanup(os.environ.pop, "CAPTURE_DIR")
        self.addCleanup(os.environ.pop, "CAPTURE_UID")
        self.assertNotIn("capture", self.compose("config", "--services").stdout)  # opt-in only
        self.files = ("-f", "docker-compose.yml", "-f", "docker-compose.capture.yml")
        self.addCleanup(self.compose, "down", "--timeout", "2", check=False)
        self.compose("up", "--build", "-d")
        self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [0, 0])

        for service, capture_filter in (("tcp-capture", "tcp port 10000"), ("udp-capture", "udp")):
            container = self.containers(service)[0]
            _, out, err = docker("inspect", "-f", "{{.HostConfig.CapDrop}} {{.HostConfig.CapAdd}} "
                                    "{{.HostConfig.Privileged}} {{.Config.User}}", container)
            self.assertEqual(out.replace("CAP_", "").split(), ["[ALL]", "[NET_RAW]", "false", f"{uid}:{uid}"],
                             err)
            command = json.loads(docker("inspect", "-f", "{{json .Config.Cmd}}", container)[1])
            self.assertEqual(command[-1], capture_filter)  # only the lab's protocol
        wait_until(lambda: "Flags [F.]" in docker("logs", self.containers("tcp-capture")[0])[1],
                   10, "the live view showing the FIN")
        self.compose("stop", "tcp-capture", "udp-capture")

        def read(name):  # the capture tool itself reads its file back
            code, out, err = docker("run", "--rm", "--user", f"{uid}:{uid}", "-v", f"{folder}:/captures:ro",
                                    "socket-lab-capture", "tcpdump", "-r", f"/captures/{name}", "-n")
            self.assertEqual(code, 0, err)
            return out.splitlines()

        tcp = read("tcp.pcap")
        to_server = [line for line in tcp if re.search(r" > [\d.]+\.10000:", line)]
        to_client = [line for line in tcp if re.search(r"\.10000 > ", line)]
        self.assertEqual(len(to_server) + len(to_client), len(tcp))  # only the lab's traffic
        flags = [re.search(r"Flags \[([^\]]*)\]", line).group(1) for line in tcp]
        self.assertEqual(flags[:3], ["S", "S.", "."])  # the handshake comes first
        self.assertEqual(tcp[:3], [to_server[0], to_client[0], to_server[1]])

        def payload(lines):
            return [int(n) for n in re.findall(r"length (\d+)$", "\n".join(lines), re.MULTILINE) if n != "0"]
        self.assertEqual(payload(to_server), [91])
        self.assertEqual(sum(payload(to_client)), 91)
        self.assertGreater(len(payload(to_client)), 1)  # the echo comes back in several segments
        for direction in (to_server, to_client):
            self.assertTrue(any("Flags [F" in line for line in direction))

        udp = read("udp.pcap")
        self.assertEqual(len(udp), 2)
        self.assertRegex(udp[0], r" > [\d.]+\.10001: UDP, length 48$")
        self.assertRegex(udp[1], r"\.10001 > [\d.]+: UDP, length 48$")


class ComposeV2(Lab, unittest.TestCase):
    FLAVOUR = "Compose v2"


class LegacyCompose(Lab, unittest.TestCase):
    FLAVOUR = "legacy"
