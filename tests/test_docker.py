"""The lab as the lecturer runs it: the image built and the four containers run by a real
Docker engine, with Compose v2 (`docker compose`) and legacy `docker-compose`, each
installed one in turn.

Without a Docker engine these tests are skipped; with REQUIRE_DOCKER=1 they fail instead,
and both Compose flavours must be installed. Each run uses its own project name, and it
stops, rather than take over, when a lab (tcp-server, udp-server, socket-network) exists.
"""
import ast
import collections
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from support import (ROOT, TCP_MESSAGE, UDP_MESSAGE, Script, compose, compose_commands, docker,
                     docker_engine_answers, exercise, fold, mermaid_check, run, wait_until)

REQUIRED = os.environ.get("REQUIRE_DOCKER") == "1"
COMPOSE = {}  # the Compose flavours installed: asked by setUpModule, not on import
# LAB_COMPOSE=v2 or LAB_COMPOSE=legacy: only that flavour (CI runs each as a step of its
# own); LAB_COMPOSE=podman: none of them (test_podman.py runs instead).
ONLY = {"v2": "Compose v2", "legacy": "legacy"}.get(os.environ.get("LAB_COMPOSE", ""))
WANTED = ([ONLY] if ONLY else [] if os.environ.get("LAB_COMPOSE") == "podman"
          else ["Compose v2", "legacy"])
LAB_NAMES = ("tcp-server", "udp-server")  # the fixed names of docker-compose.yml
NETWORK = "socket-network"
ADDRESS = r"\('\d+\.\d+\.\d+\.\d+', \d+\)"  # a container's (host, port)
SLOW_STOP = 10  # seconds: Docker's kill timeout, what a server that ignores the stop signal costs


README = (ROOT / "README.md").read_text(encoding="utf-8")
WIRE_README = (ROOT / "wire" / "README.md").read_text(encoding="utf-8")
_RUN = WIRE_README.split("### One run, packet by packet", 1)[1].split("\n### ", 1)[0]
_BLOCKS = dict(zip(("tcp-impair", "tcp-capture", "udp-impair", "udp-client"),
                   [*re.findall(r"```console\n(.*?)```", _RUN, re.DOTALL),
                    *re.findall(r"```text\n(.*?)```", _RUN, re.DOTALL)]))
README_RUN = {name: block.splitlines() for name, block in _BLOCKS.items()}  # the README's loss run

Packet = collections.namedtuple("Packet", "direction flags seq length")
Lost = collections.namedtuple("Lost", "direction flags length")
LOST = re.compile(r"^lost: (?:TCP|UDP) \S+:(\d+) > \S+:\d+(?: ([A-Z ]+))?, (\d+) bytes$")
IMPAIRMENTS = ("LOSS_PERCENT", "LOSS_EVERY", "DELAY_MS", "JITTER_MS", "REORDER_PERCENT", "REORDER_EVERY",
               "DUPLICATE_PERCENT", "DUPLICATE_EVERY")


def impaired(**settings):
    """wire/impair.yml's settings, as a student sets them: these, and none of the others."""
    chosen = {name.upper(): str(value) for name, value in settings.items()}
    return {**dict.fromkeys(IMPAIRMENTS, ""), **chosen}


def lost(line):
    """A `lost:` line of impair.py's output, as (direction, flags, length)."""
    sport, flags, length = LOST.fullmatch(line).groups()
    return Lost("to client" if sport in ("10000", "10001") else "to server", flags or "", int(length))


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


ARROW = re.compile(r"^    ([CS])(--?x|--?>>)[CS]: [\d.]+ s, (.*)$")
TEXT_ARROW = re.compile(r"^ *\d+\.\d{3} (\|.*\|)$")


def drawn_in_readme(section, protocol):
    """The Mermaid ladder of one protocol, and its tally line, that wire/README.md shows
    in a section: real output of draw.py, pasted."""
    text = WIRE_README.split(f"\n{section}\n", 1)[1]
    text = text.split("\n## ", 1)[0]
    diagram = next(block for block in re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
                   if f"participant C as {protocol}-client" in block)
    tally = re.search(rf"^{protocol.upper()}: .*$", text, re.MULTILINE).group(0)
    return diagram, tally


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


def readme_block(section, first_line):
    """The lines of the wire/README.md block in `section` that begins with first_line."""
    text = WIRE_README.split(f"\n{section}\n", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in re.findall(r"```\w*\n(.*?)```", text, re.DOTALL) if b.startswith(first_line))
    return block.splitlines()


def readme_commands(section):
    """The Compose commands of a section's bash blocks, each as (the files after the main
    one, the arguments after them), the settings in front and what it pipes into dropped."""
    text = WIRE_README.split(f"\n{section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()]
    commands = []
    for line in lines:
        words = shlex.split(line)
        words = words[:words.index("|")] if "|" in words else words
        while "=" in words[0]:
            words.pop(0)
        files = []
        while words[2] == "-f":
            files.append(words[3])
            words[2:4] = []
        commands.append((files[1:], words[2:]))
    return commands


def text_arrows(lines):
    """Each arrow of the printed ladder as (sender, lost): `|-- ...>|` from the client,
    `|<... --|` from the server, an X where a lost one stops."""
    found = []
    for line in lines:
        match = TEXT_ARROW.match(line)
        if match:
            body = match.group(1)
            found.append(("C" if body.startswith("|--") else "S", "X" in body))
    return found


TSHARK = shutil.which("tshark")


def wireshark(test, pcap, display_filter):
    """Apply one of the handout's display filters with Wireshark's own tshark: for each
    packet it selects, (number, source port, TCP length, seconds since the first packet).
    A filter that Wireshark rejects fails the test."""
    test.assertIn(f"`{display_filter}`", WIRE_README)  # the handout's words, not the test's
    done = subprocess.run(["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields",
                           "-e", "frame.number", "-e", "udp.srcport", "-e", "tcp.srcport", "-e", "tcp.len",
                           "-e", "frame.time_relative"], capture_output=True, encoding="utf-8", timeout=60)
    test.assertEqual(done.returncode, 0, done.stderr)
    return [(int(number), int(udp or tcp or 0), int(length or 0), float(seconds))
            for number, udp, tcp, length, seconds in (line.split("\t") for line in done.stdout.splitlines())]


def tshark_or_skip(test):
    """The last step of a test, its checks with Wireshark's filters: where tshark is missing,
    the test ends here as skipped, every check before it done (unittest and pytest alike)."""
    if not TSHARK:
        test.skipTest("tshark is not installed (Debian: apt install tshark): Wireshark's filters unchecked")


def lab_copy(test, owner):
    """A copy of the lab as a fresh clone owned by uid `owner` has it; removed after the test."""
    folder = tempfile.mkdtemp(prefix="socketlab-clone-")
    test.addCleanup(shutil.rmtree, folder, ignore_errors=True)
    copy = shutil.copytree(ROOT, os.path.join(folder, "lab"), ignore=shutil.ignore_patterns(
        ".git", ".ci", "tests", "__pycache__", ".ruff_cache", ".venv", "*.pcap", "tcp.md", "udp.md"))
    for directory, names, files in os.walk(copy):
        for name in [directory, *(os.path.join(directory, f) for f in names + files)]:
            os.lchown(name, owner, owner)
    return Path(copy)


def own_image(test, folder):
    """Give a copy of the lab whose scripts a test edits an image of its own: the edited
    scripts never end up in `socket-lab`, which other tests and the student use."""
    name = f"socket-lab-test-{os.getpid()}-{id(test)}"
    compose_file = folder / "docker-compose.yml"
    text = compose_file.read_text()
    ours = re.sub(r"^(    image: )socket-lab\b(?!-)", rf"\g<1>{name}", text, flags=re.MULTILINE)
    test.assertEqual(ours.count(f"image: {name}"), 4)  # the four services'
    compose_file.write_text(ours)
    test.addCleanup(docker, "rmi", name)
    return name


def start_clients_before_their_capture(test, options, count=1):
    """Start tcp-server and `count` TCP clients, but not their capture; watch for 1 s that
    the clients wait and the server sees nobody; then start the capture. For the Docker
    and the Podman test classes alike."""
    test.up("tcp-server", **options)
    test.compose("up", "-d", "--no-deps", *(["--scale", f"tcp-client={count}"] if count > 1 else []),
                 "tcp-client", **options)
    wait_until(lambda: len(test.containers("tcp-client", status="running")) == count, 30,
               "the clients started")
    watched = time.monotonic() + 1
    while time.monotonic() < watched:
        test.assertEqual(test.log("tcp-server"), server_lines("tcp-server", "")[:2])
        test.assertFalse(test.containers("tcp-client", status="exited"))
        time.sleep(0.2)
    test.compose("up", "-d", "--no-deps", "tcp-capture", **options)


def check_the_readme_drop_log(test, service):
    """An impair service's log begins as wire/README.md's LOSS_EVERY=4 run: its first line,
    then the same packets lost (addresses and ports aside). Docker and Podman alike.
    Returns every packet it lost."""
    log = test.service_log(service)
    test.assertEqual(log[0], README_RUN[service][0])
    dropped = [lost(line) for line in log[1:]]
    shown = [lost(line) for line in README_RUN[service][1:]]
    test.assertEqual(dropped[:len(shown)], shown)
    return dropped


def record(folder, protocol):
    """impair.py's record of a run: one dict per packet."""
    path = folder / "wire" / "captures" / f"{protocol}-impair.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def the_teardown_is_over(live_view):
    """In tcp-capture's output: the server's FIN, then the client's answer to it; or the
    server's FIN twice, when nobody answers (the LOSS_EVERY=4 run of wire/README.md)."""
    fins = [n for n, line in enumerate(live_view) if "Flags [F" in line and ".10000 > " in line]
    return len(fins) >= 2 or (bool(fins) and any(".10000: " in line for line in live_view[fins[0] + 1:]))


def stop_captures(test, options):
    """Wait for the end of the TCP teardown in the live view, then stop both captures (and
    the loss services: the drop log ends with the capture). Docker and Podman alike."""
    wait_until(lambda: the_teardown_is_over(test.service_log("tcp-capture")), 20,
               "the live view showing the end of the teardown")
    services = ["tcp-capture", "udp-capture"]
    if "wire/impair.yml" in options["files"]:
        services += ["tcp-impair", "udp-impair"]
    test.compose("stop", *services, **options)


def check_the_end_after_the_lost_fin(test, ladder, shown):
    """A drawn LOSS_EVERY=4 run is wire/README.md's up to the server's lost FIN (13 arrows).
    Then either nobody answers, as in that run: the server sends its FIN again and again;
    or the client's network outlived the client by 0.2 s (a busy computer, Podman): its kernel
    sends its own FIN again, the server's acknowledges it (a D-SACK: it had it already) and
    sends its FIN again, and the client's ACK 93 ends the connection (every fourth of these
    lost too, and sent again). Docker and Podman alike."""
    test.assertEqual(ladder[:13], shown[:13])
    server_again = ("S", "FIN, sent again after")
    for rest in (ladder[13:], shown[13:]):
        test.assertIn(server_again, [arrow[:2] for arrow in rest])
    rest = {arrow[:2] for arrow in ladder[13:]}
    if any(sender == "C" for sender, _ in rest):
        test.assertLessEqual(rest, {server_again, ("C", "FIN, sent again after"), ("S", "ACK 93, D-SACK 92"),
                                    ("C", "ACK 93"), ("C", "duplicate ACK 93")}, ladder)
    else:
        test.assertEqual(rest, {server_again}, ladder)


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
    if not WANTED:
        raise unittest.SkipTest("LAB_COMPOSE=podman")
    COMPOSE.update(compose_commands() if docker_engine_answers() else {})
    if not COMPOSE or (REQUIRED and not set(WANTED) <= set(COMPOSE)):
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
        if cls.FLAVOUR not in WANTED:
            raise unittest.SkipTest(f"LAB_COMPOSE={os.environ['LAB_COMPOSE']}")
        cls.project = f"socketlabtest{os.getpid()}{cls.__name__.lower()}"

    def compose(self, *args, **options):
        """Run Compose on the lab: support.compose, with this class's flavour and project."""
        return compose([*COMPOSE[self.FLAVOUR], "-p", self.project], *args, **options)

    def up(self, *args, **options):
        """`up --build -d`, torn down with `down` when the test ends (a `down` that fails
        fails the test)."""
        self.addCleanup(self.compose, "down", "--timeout", "2", check=True, **options)
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

    def read_capture(self, folder, name, owner):
        """The capture image itself reads a pcap file back, as the file's owner."""
        code, out, err = docker("run", "--rm", "--user", f"{owner}:{owner}", "-v",
                                f"{folder / 'wire' / 'captures'}:/captures:ro", "socket-lab-wire",
                                "tcpdump", "-r", f"/captures/{name}", "-n")
        self.assertEqual(code, 0, err)
        return out.splitlines()

    def draw(self, folder, owner, check=True):
        """Run wire/draw.yml's command in a copy of the lab; check what every drawing
        must be: ladders that fit 79 columns, the same arrows as text and as Mermaid,
        the diagrams owned by the clone's owner. Return (stdout lines, {protocol: md})."""
        done = self.compose("run", "--rm", "draw", files=["wire/draw.yml"], folder=folder,
                            check=check)
        if not check:
            return done
        for pcap in (folder / "wire" / "captures").glob("*.pcap"):  # the records are yours too
            self.assertEqual((pcap.stat().st_uid, pcap.stat().st_gid), (owner, owner), pcap)
        lines = done.stdout.splitlines()
        self.assertEqual([line for line in lines if len(line) > 79], [])
        drawn = {}
        for protocol in ("tcp", "udp"):
            path = folder / "wire" / "captures" / f"{protocol}.md"
            if f"wire/captures/{protocol}.md" not in lines[-1]:
                continue
            self.assertEqual((path.stat().st_uid, path.stat().st_gid), (owner, owner))
            drawn[protocol] = path.read_text()
            tally = drawn[protocol].splitlines()[-1]
            self.assertIn(tally, lines)
            self.assertTrue(tally.startswith(f"{protocol.upper()}: "))
        checked = mermaid_check(*(folder / "wire" / "captures" / f"{p}.md" for p in drawn))
        if checked:  # valid Mermaid 11, when the tests are given a parser (CI: every drawing)
            self.assertEqual(checked[0], 0, checked[1])
        ladders = "\n".join(lines).split("\n\n")  # one text ladder per protocol
        for (protocol, diagram), ladder in zip(drawn.items(), ladders):
            self.assertIn(f"{protocol}-client", ladder.splitlines()[0])
            self.assertEqual(text_arrows(ladder.splitlines()),
                             [(sender, lost) for sender, _, lost in arrows(diagram)])
        return lines, drawn


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
        self.assertGreater(len(stamped), 30)
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
        # What only a container needs is in the image, not in the scripts: unbuffered
        # output (the live `logs -f` above) and the signal that stops a server.
        code, out, err = docker("image", "inspect", "-f", "{{json .Config}}", "socket-lab")
        self.assertEqual(code, 0, err)
        self.assertIn("PYTHONUNBUFFERED=1", json.loads(out)["Env"])
        self.assertEqual(json.loads(out)["StopSignal"], "SIGINT")
        code, out, err = docker("network", "inspect", NETWORK)
        self.assertEqual(code, 0, err)
        network = json.loads(out)[0]
        self.assertEqual(network["Driver"], "bridge")
        self.assertLessEqual(set(LAB_NAMES), {c["Name"] for c in network["Containers"].values()})

        # A client on this computer reaches the servers through the published ports.
        self.assertEqual(run("tcp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)
        self.assertEqual(run("udp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)
        for name, port in (("tcp-server", "10000/tcp"), ("udp-server", "10001/udp")):
            code, out, err = docker("port", name)
            self.assertEqual(code, 0, err)  # published on the loopback only, nothing else
            self.assertEqual(out.splitlines(), [f"{port} -> 127.0.0.1:{port.split('/')[0]}"])
        if self.FLAVOUR == "legacy":  # the version the README names is the one tested here
            version = self.compose("version", "--short").stdout.strip()
            stated = re.search(r"`docker-compose` program \(version (\d+\.\d+) or newer\)", README)
            self.assertEqual(version.rsplit(".", 1)[0], stated.group(1))
        self.check_stop_restart_and_down_are_quick_and_clean()

    def test_only_tcp_and_only_udp(self):
        for pair in (("tcp-server", "tcp-client"), ("udp-server", "udp-client")):
            with self.subTest(pair):
                self.up(*pair)
                self.assertEqual(self.wait_for_clients(pair[1]), [0])
                services = [docker("inspect", "-f", '{{index .Config.Labels "com.docker.compose.service"}}',
                                   container)[1].strip() for container in self.containers()]
                self.assertEqual(sorted(services), sorted(pair))
                self.compose("down", "--timeout", "2")

    def check_stop_restart_and_down_are_quick_and_clean(self):
        """The handout's stop, rebuild and down, on the running lab."""
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
        self.addCleanup(self.compose, "down", "--timeout", "2", check=True)
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
        self.addCleanup(self.compose, "down", "--timeout", "2", check=True)
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

    def test_several_tcp_clients_take_turns_and_are_drawn_one_after_another(self):
        """Three clients, started before their capture: they wait for it (whatever order an
        engine starts containers in), so each connection is drawn from its SYN."""
        folder = lab_copy(self, os.getuid())
        options = {"files": ["wire/capture.yml"], "folder": folder}
        start_clients_before_their_capture(self, options, count=3)
        self.assertEqual(self.wait_for_clients("tcp-client", count=3), [0, 0, 0])
        self.assertEqual(sum(line.startswith("Connection from") for line in self.log("tcp-server")), 3)
        # Each connection's last packet, the client's ACK of the server's FIN: then stop.
        wait_until(lambda: sum("Flags [.], ack 93," in line for line in self.service_log("tcp-capture")) == 3,
                   20, "three connections captured to their end")
        self.compose("stop", "tcp-capture", **options)
        lines, drawn = self.draw(folder, os.getuid())
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
        second = wireshark(self, folder / "wire" / "captures" / "tcp.pcap", "tcp.stream == 1")
        self.assertEqual(len(second), counts[1])
        self.assertEqual(len({port for _, port, _, _ in second} - {10000}), 1)

    def test_capture_files_belong_to_whoever_owns_the_clone(self):
        self.assertNotRegex(self.compose("config", "--services").stdout, "capture|loss")  # opt-in
        # A clone of another user's (root's own is what the other wire tests use, as root).
        owner = 1234 if os.getuid() == 0 else os.getuid()
        folder = lab_copy(self, owner)
        captures = folder / "wire" / "captures"
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
        stop_captures(self, options)
        for name in ("tcp.pcap", "udp.pcap"):
            info = (captures / name).stat()
            self.assertEqual((info.st_uid, info.st_gid), (owner, owner))
        self.check_a_perfect_exchange(folder, owner)
        # Drawn: 20 TCP arrows and 2 UDP arrows, none crossed, as wire/README.md shows.
        _, drawn = self.draw(folder, owner)
        for protocol, count in (("tcp", 20), ("udp", 2)):
            shown, tally = drawn_in_readme("## Drawing the wire", protocol)
            self.assertEqual(arrows(drawn[protocol]), arrows(shown))
            self.assertEqual(len(arrows(shown)), count)
            self.assertNotIn(True, [lost for _, _, lost in arrows(shown)])
            self.assertEqual(drawn[protocol].splitlines()[-1], tally)
        perfect = shutil.copytree(captures, folder / "perfect-run")  # udp.pcap is recorded again
        self.check_a_fragmented_datagram(folder, owner, options)
        self.compose("down", "--timeout", "2", **options)
        tshark_or_skip(self)
        self.check_the_wireshark_table(Path(perfect))
        fragments = wireshark(self, captures / "udp.pcap", "ip.flags.mf == 1 or ip.frag_offset > 0")
        self.assertEqual(len(fragments), 90)  # exercise 4's, filtered by tshark

    def check_the_wireshark_table(self, captures):
        """wire/README.md's filters, on the perfect run: what the table says each shows."""
        tcp = captures / "tcp.pcap"
        syns = wireshark(self, tcp, "tcp.flags.syn == 1")  # the first two packets of the handshake
        self.assertEqual([(number, port == 10000, size) for number, port, size, _ in syns],
                         [(1, False, 0), (2, True, 0)])
        data = wireshark(self, tcp, "tcp.len > 0")  # the message and the six echoes
        self.assertEqual([(port == 10000, size) for _, port, size, _ in data],
                         [(False, 91)] + [(True, 16)] * 5 + [(True, 11)])
        fins = wireshark(self, tcp, "tcp.flags.fin == 1")  # the two FINs of the teardown
        self.assertEqual(sorted(port == 10000 for _, port, _, _ in fins), [False, True])
        udp = wireshark(self, captures / "udp.pcap", "udp")
        self.assertEqual([(port == 10001, size) for _, port, size, _ in udp], [(False, 0), (True, 0)])

    def check_a_fragmented_datagram(self, folder, owner, options):
        """Exercise 4 through a running capture, with the README's command: 45 fragments
        each way on the wire, drawn as one arrow each way."""
        shown = fold(WIRE_README)
        command = re.search(r"`docker compose -f docker-compose.yml -f wire/capture.yml (run --rm --no-deps "
                            r"-e MESSAGE=hello udp-client)`", shown).group(1).split()
        self.compose("start", "udp-capture", **options)  # a new udp.pcap
        wait_until(lambda: sum("listening on" in line for line in self.service_log("udp-capture", 2)) == 2,
                   20, "the capture listening again")
        command[command.index("MESSAGE=hello")] = "MESSAGE=" + "x" * 65507
        done = self.compose(*command, **options)
        self.assertIn("Received 65507 bytes from", done.stdout)
        wait_until(lambda: len(self.service_log("udp-capture")) >= 2 + 90, 20, "90 fragments captured")
        self.compose("stop", "udp-capture", **options)
        _, drawn = self.draw(folder, owner)
        self.assertEqual(arrows(drawn["udp"]), [("C", "datagram, 65507 bytes, 45 fragments", False),
                                                ("S", "datagram, 65507 bytes, 45 fragments", False)])

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

    @exercise(9, 11, 12)
    def test_deterministic_loss_with_the_capture_as_the_readme_shows(self):
        options = self.impaired_lab(loss_every=4)
        folder = options["folder"]
        self.up(**options)
        self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [0, 0])
        for service, server in (("tcp-impair", "tcp-server"), ("udp-impair", "udp-server")):
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
        # lost ACK covered by the next one, the echo in two segments, the server's FIN resent
        # (13 and 14; how the teardown ends is checked on the drawing below).
        stop_captures(self, options)
        capture = [packet(line) for line in self.read_capture(folder, "tcp.pcap", os.getuid())]
        shown = [packet(line) for line in README_RUN["tcp-capture"]]
        self.assertEqual(capture[:12], shown[:12])
        self.assertEqual({p.flags for p in capture[12:] if p.direction == "to client"}, {"F."})
        self.assertEqual([p.seq for p in capture if p.seq == "1:92"], ["1:92", "1:92"])  # resent
        self.assertEqual([p.length for p in capture if p.direction == "to client" and p.length],
                         [16, 75])  # exercise 11: two segments, not six
        udp = [packet(line) for line in self.read_capture(folder, "udp.pcap", os.getuid())]
        self.assertEqual([p.direction for p in udp], ["to server", "to server", "to client"])

        # impair.py printed each packet it lost, as the README shows them, and its record
        # has the same: every fourth packet, both ways counted.
        for service in ("tcp-impair", "udp-impair"):
            dropped = check_the_readme_drop_log(self, service)
            fates = sorted(record(folder, service[:3]), key=lambda fate: fate["time"])  # as they came
            self.assertEqual(len(dropped), sum(fate["lost"] for fate in fates))
            self.assertEqual([n for n, fate in enumerate(fates) if fate["lost"]],
                             list(range(0, len(fates), 4)))
            # The rules stay in the server's namespace after impair.py has stopped: its
            # packets pass untouched now (--queue-bypass).
            code, out, err = docker("run", "--rm", "--network", f"container:{service[:3]}-server",
                                    "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "socket-lab-wire",
                                    "iptables", "-S")
            self.assertEqual(code, 0, err)
            self.assertEqual(len(re.findall(r"-j NFQUEUE --queue-num 0 --queue-bypass$", out, re.M)), 2, out)

        # Exercise 9: the lost SYN costs the client a second before it can send.
        code, out, err = docker("logs", "--timestamps", self.containers("tcp-client")[0])
        self.assertEqual(code, 0, err)
        times = [logged_at(line) for line in out.splitlines()]
        self.assertGreaterEqual((times[1] - times[0]).total_seconds(), 1.0)
        self.assertLess((times[1] - times[0]).total_seconds(), 2.0)
        self.assertLess((times[-1] - times[1]).total_seconds(), 1.0)

        tcp = self.check_the_drawing_of_the_readme_run(folder, capture)
        kept = shutil.copy(folder / "wire" / "captures" / "tcp.pcap", folder / "kept-tcp.pcap")
        self.check_drawing_refuses_bad_records(folder, options)
        tshark_or_skip(self)
        self.check_the_filters_of_exercises_9_and_11(Path(kept), tcp)

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
        self.assertEqual(marked, frames)
        self.assertGreaterEqual(len(marked), 3)

    def check_the_drawing_of_the_readme_run(self, folder, capture):
        """Drawn: every captured packet, and the server's FIN that only the drop log has;
        lost SYN, message, ACK and FIN crossed out, as wire/README.md shows."""
        _, drawn = self.draw(folder, os.getuid())
        tcp, (shown, tally) = arrows(drawn["tcp"]), drawn_in_readme("### One run, drawn", "tcp")
        shown = arrows(shown)
        out = [p for p in map(lost, self.service_log("tcp-impair")[1:]) if p.direction == "to client"]
        self.assertEqual(len(tcp), len(capture) + len(out))
        check_the_end_after_the_lost_fin(self, tcp, shown)
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
        udp, (shown, tally) = arrows(drawn["udp"]), drawn_in_readme("### One run, drawn", "udp")
        self.assertEqual(udp, arrows(shown))
        self.assertEqual(udp, [("C", "datagram, 48 bytes", True),
                               ("C", "datagram, 48 bytes, sent again after", False),
                               ("S", "datagram, 48 bytes", False)])
        for line in (drawn["udp"].splitlines()[-1], tally):
            self.assertRegex(line, r"^UDP: 3 datagrams, 1 lost, sent again by the client after 1\.0\d s$")
        return tcp

    def check_drawing_refuses_bad_records(self, folder, options):
        """Missing, empty or cut records, or a capture older than the drop log: one line,
        exit 1, and no file but the diagrams changed. Then a restarted loss service
        replaces its rules instead of adding a second set."""
        captures = folder / "wire" / "captures"
        saved = {path.name: path.read_bytes() for path in captures.glob("*.pcap")}
        run_first = "docker compose -f docker-compose.yml -f wire/capture.yml up --build"
        cases = (
            ({"tcp.pcap": saved["tcp.pcap"][:-30]},
             f"Error: wire/captures/tcp.pcap is cut short, or is no capture; run the lab again: {run_first}"),
            ({"tcp.pcap": b""},
             f"Error: wire/captures/tcp.pcap is empty: the capture never started; run it again: {run_first}"),
            ({"tcp.pcap": None, "udp.pcap": None},
             f"Error: no capture in wire/captures: run the lab with it first: {run_first}"))
        for changes, error in cases:
            with self.subTest(error=error):
                for name, content in {**saved, **changes}.items():
                    (captures / name).unlink(missing_ok=True)
                    if content is not None:
                        (captures / name).write_bytes(content)
                before = {path.name: path.read_bytes() for path in captures.iterdir()
                          if path.suffix != ".md"}
                done = self.draw(folder, os.getuid(), check=False)
                self.assertEqual((done.returncode, done.stdout), (1, ""))
                self.assertEqual([line for line in done.stderr.splitlines()
                                  if "Error" in line or "Traceback" in line], [error])
                self.assertEqual({path.name: path.read_bytes() for path in captures.iterdir()
                                  if path.suffix != ".md"}, before)
        for name, content in saved.items():
            (captures / name).write_bytes(content)

        # A record from a later run than the capture: another connection's packets (the UDP
        # client's), an hour later.
        later = [{**fate, "time": fate["time"] + 3600} for fate in record(folder, "udp")]
        saved_record = (captures / "tcp-impair.jsonl").read_bytes()
        (captures / "tcp-impair.jsonl").write_text("".join(json.dumps(fate) + "\n" for fate in later))
        done = self.draw(folder, os.getuid(), check=False)
        self.assertEqual(done.returncode, 1)
        self.assertIn("Error: wire/captures/tcp.pcap is older than tcp-impair.jsonl: run the impaired "
                      "network with the capture, then draw again", done.stderr.splitlines())
        (captures / "tcp-impair.jsonl").write_bytes(saved_record)

        # Started again beside the running server, tcp-impair loads its rules again: the
        # same rules, not a second set beside the first.
        def started():
            return sum(line.startswith("Impairing tcp port 10000") for line in self.service_log("tcp-impair"))

        self.assertEqual(started(), 1)
        self.compose("restart", "tcp-impair", **options)
        wait_until(lambda: started() == 2, 30, "impair.py started again")  # its rules are in by then
        self.check_one_set_of_rules("tcp-impair", "tcp", 10000)

    def check_one_set_of_rules(self, service, protocol, port):
        container = self.containers(service)[0]
        code, rules, err = docker("exec", container, "iptables", "-S")
        self.assertEqual(code, 0, err)
        queue = "-j NFQUEUE --queue-num 0 --queue-bypass"
        self.assertEqual([line for line in rules.splitlines() if line.startswith("-A")], [
            f"-A INPUT -p {protocol} -m {protocol} --dport {port} {queue}",
            f"-A OUTPUT -p {protocol} -m {protocol} --sport {port} {queue}"])
        code, tables, err = docker("exec", container, "nft", "list", "tables")
        self.assertEqual(code, 0, err)
        self.assertEqual(tables.count("table ip socket_lab_copies"), 1, tables)

    def impaired_lab(self, **settings):
        """A fresh copy of the lab run with the impaired network and the capture, with
        these settings and no others: the options for compose()."""
        return {"files": ["wire/impair.yml", "wire/capture.yml"], "folder": lab_copy(self, os.getuid()),
                "settings": impaired(**settings)}

    def timed_log(self, service):
        """A service's lines, each with its time from `docker logs --timestamps`."""
        code, out, err = docker("logs", "--timestamps", self.containers(service)[0])
        self.assertEqual(code, 0, err)
        return [(logged_at(line), line.split(" ", 1)[1]) for line in out.splitlines()]

    def run_the_readme(self, section, options, upto):
        """Run the commands of a wire/README.md section in order, from its first (`up`,
        started here as `up --build -d` with the test's teardown) up to the one whose
        arguments begin with `upto`, which is returned, not run."""
        for files, args in readme_commands(section):
            self.assertEqual(files[:len(options["files"])], options["files"][:len(files)], args)
            if args[:len(upto)] == upto:
                return args
            if args[0] == "up":
                self.up(**options)
                self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [0, 0])
            else:
                self.compose(*args, **options)
        raise AssertionError(f"no {upto} in {section}")

    @exercise(13)
    def test_a_delay_costs_tcp_three_round_trips_and_udp_one(self):
        options = self.impaired_lab(delay_ms=100)
        folder = options["folder"]
        self.run_the_readme("## Round trips", options, ["logs"])
        self.assertEqual(self.service_log("tcp-impair"), ["Impairing tcp port 10000: delay 100 ms"])
        # The clients' own times: the handshake, the message, Nagle's wait; one for UDP.
        tcp = [at for at, _ in self.timed_log("tcp-client")]
        # Counted from `sending`, as a client printing late moves one line, not the next:
        # 0.1 s to it, 0.1 s to the first chunk, 0.2 s to the last (and less than 0.2 s
        # more, even on a busy computer).
        for later, earlier, least in ((tcp[1], tcp[0], 0.1), (tcp[2], tcp[1], 0.1), (tcp[-2], tcp[1], 0.2)):
            self.assertTrue(least <= (later - earlier).total_seconds() < least + 0.2, tcp)
        udp = [at for at, _ in self.timed_log("udp-client")]
        self.assertTrue(0.1 <= (udp[2] - udp[0]).total_seconds() < 0.3, udp)
        # Every packet arriving at a server was held 0.1 s, none leaving it.
        fates = record(folder, "tcp") + record(folder, "udp")
        self.assertTrue(all(0.1 <= f["held"] < 0.3 for f in fates if f["way"] == "in"), fates)
        self.assertEqual({f["held"] for f in fates if f["way"] == "out"}, {0})
        stop_captures(self, options)
        lines, _ = self.draw(folder, os.getuid())
        shown = readme_block("## Round trips", "seconds tcp-client")
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
        options = self.impaired_lab(reorder_every=4)
        folder = options["folder"]
        many, logs, long, down, _ = [args for _, args in readme_commands("## Order")][1:]
        self.assertEqual(self.run_the_readme("## Order", options, many[:4]), many)
        self.compose(*many, **options)
        shown = readme_block("## Order", "Data:")
        wait_until(lambda: len([line for line in self.log("udp-server") if line.startswith("Data:")]) == 11,
                   10, "eleven datagrams at udp-server")
        got = self.compose(*logs, **options).stdout.splitlines()
        self.assertEqual([line for line in got if line.startswith("Data:")], shown)
        # The long message: several segments in flight, some overtaken; read in order.
        self.assertEqual(long[4], "MESSAGE=$(seq -s ' ' 3000)")
        message = " ".join(str(n) for n in range(1, 3001))
        self.assertEqual(len(message), 13892)
        done = self.compose(*long[:4], f"MESSAGE={message}", *long[5:], **options)
        self.assertEqual(done.stdout.splitlines()[-1], "closing socket")
        received = [line for line in self.log("tcp-server") if line.startswith("Received: ")]
        echoed = "".join(ast.literal_eval(line.split(": ", 1)[1]).decode() for line in received)
        self.assertEqual(echoed, TCP_MESSAGE.decode() + message)
        self.compose(*down, "--timeout", "2", **options)
        _, drawn = self.draw(folder, os.getuid())
        long_one = drawn["tcp"].split("Note over C,S: connection 2:", 1)[1]
        labels = [label for _, label, _ in arrows(long_one)]
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
        options = self.impaired_lab(duplicate_every=3)
        folder = options["folder"]
        self.run_the_readme("## Duplicates", options, ["down"])
        udp_server = self.log("udp-server")
        client = re.fullmatch(rf"Received 48 bytes from ({ADDRESS})", udp_server[2]).group(1)
        once = server_lines("udp-server", client)
        self.assertEqual(udp_server, once + once[2:])  # received, printed, answered twice
        shown = readme_block("## Duplicates", "Received")
        self.assertEqual([re.sub(ADDRESS, "ADDRESS", line) for line in udp_server[2:9]],
                         [re.sub(ADDRESS, "ADDRESS", line) for line in shown])
        self.assertEqual(sum(line.startswith("Received") for line in self.service_log("udp-client")), 1)
        tcp_server = self.log("tcp-server")
        client = re.fullmatch(rf"Connection from ({ADDRESS})", tcp_server[2]).group(1)
        self.assertEqual(tcp_server, server_lines("tcp-server", client))  # each chunk once
        stop_captures(self, options)
        lines, drawn = self.draw(folder, os.getuid())
        self.assertEqual(ladder_arrows("\n".join(lines).split("\n\n")[1].splitlines()),
                         ladder_arrows(readme_block("## Duplicates", "seconds udp-client")))
        self.assertEqual(lines[-3:-1], ["UDP: 4 datagrams, none lost", "UDP: 1 copy by the network"])
        tcp = arrows(drawn["tcp"])
        self.assertEqual(tcp[:2], [("C", "SYN", False), ("C", "SYN, the network's copy", False)])
        copies = [label for _, label, _ in tcp if "copy" in label]
        self.assertGreaterEqual(len(copies), 2)
        self.assertFalse([label for label in copies if "sent again" in label])
        self.assertEqual(drawn["tcp"].splitlines()[-1], f"TCP: {len(copies)} copies by the network")

    def test_impairments_combine_and_the_lab_flows_on_when_impair_py_dies(self):
        options = self.impaired_lab(loss_every=4, delay_ms=100, duplicate_every=5)
        folder = options["folder"]
        self.up(**options)
        self.assertEqual(self.wait_for_clients("tcp-client", "udp-client"), [0, 0])
        self.assertEqual(self.service_log("udp-impair")[0],
                         "Impairing udp port 10001: losing 1 in 4, delay 100 ms, copying 1 in 5")
        fates = record(folder, "tcp")
        self.assertTrue(any(f["lost"] for f in fates) and any(f["copy"] for f in fates))
        self.assertTrue(all(f["held"] >= 0.1 for f in fates if f["way"] == "in" and not f["lost"]))
        # Killed, impair.py holds nothing more: the packets pass untouched, at once. (The
        # clients run from the main file alone: the wire's would wait 30 s for impair.py's
        # port 9001 first.)
        for service in ("tcp-impair", "udp-impair"):
            self.assertEqual(docker("kill", self.containers(service)[0])[0], 0)
        for client in ("tcp-client", "udp-client"):
            done = self.compose("run", "--rm", "--no-deps", client, folder=folder,
                                settings=options["settings"])
            self.assertNotIn("No reply within 1 s", done.stdout)
        self.assertEqual(sum(line.startswith("Connection from") for line in self.log("tcp-server")), 2)
        stop_captures(self, options)
        _, drawn = self.draw(folder, os.getuid())
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

    def test_a_bad_impairment_setting_stops_everything_with_one_line(self):
        # A bad value as the README runs it: nothing but impair-settings starts ...
        line = "Error: LOSS_PERCENT must be a whole number from 0 to 100, not '150'"
        options = {"files": ["wire/impair.yml"], "settings": impaired(loss_percent=150)}
        self.addCleanup(self.compose, "down", "--timeout", "2", check=True, **options)
        attached = self.compose("up", "--build", check=False, **options)
        self.assertNotEqual(attached.returncode, 0)
        if self.FLAVOUR == "Compose v2":  # legacy Compose does not show it: see wire/README.md
            self.assertRegex(attached.stdout + attached.stderr,
                             rf"(?m)^impair-settings-1 +\| {re.escape(line)}$")
            self.assertIn(f"impair-settings-1  | {line}", WIRE_README)
        logs = self.compose("logs", "--no-color", "impair-settings", **options).stdout
        self.assertEqual([text.split("| ", 1)[1] for text in logs.splitlines() if "| " in text], [line])
        services = {}
        for container in self.containers():  # no server, no client ever started
            started = docker("inspect", "-f", "{{.State.StartedAt}}", container)[1]
            service = docker("inspect", "-f", '{{index .Config.Labels "com.docker.compose.service"}}',
                             container)[1].strip()
            services[service] = not started.startswith("0001-")
        self.assertEqual({name for name, ran in services.items() if ran}, {"impair-settings"})
        self.assertEqual(self.containers(status="running"), [])
        # ... and every bad value, checked by impair.py itself in the wire image.
        for variable, value, limits in (("LOSS_PERCENT", "abc", "0 to 100"),
                                        ("LOSS_PERCENT", "-1", "0 to 100"),
                                        ("LOSS_PERCENT", "101", "0 to 100"),
                                        ("LOSS_EVERY", "0", "1 to 100"),
                                        ("DELAY_MS", "0.1", "0 to 10000"),
                                        ("JITTER_MS", "10001", "0 to 10000"),
                                        ("REORDER_PERCENT", "½", "0 to 100"),
                                        ("REORDER_EVERY", "101", "1 to 100"),
                                        ("DUPLICATE_PERCENT", " 5", "0 to 100"),
                                        ("DUPLICATE_EVERY", "0", "1 to 100")):
            with self.subTest(variable=variable, value=value):
                code, out, err = docker("run", "--rm", "-e", f"{variable}={value}", "socket-lab-wire",
                                        "impair.py", "check")
                self.assertEqual((code, out, err.splitlines()), (1, "", [
                    f"Error: {variable} must be a whole number from {limits}, not '{value}'"]))


class DockerExercises(Lab):
    """The exercises that run the lab in Docker, once (with the first Compose installed)."""

    @exercise(1)
    def test_exercise_1_clients_queue_behind_a_silent_client(self):
        # With the capture, as wire/README.md tells: its notes on exercises 1 and 7 are
        # checked on the drawing of this run.
        self.assertIn("docker compose -f docker-compose.yml -f wire/capture.yml up --build -d tcp-server "
                      "tcp-capture", fold(WIRE_README))
        folder = lab_copy(self, os.getuid())
        # The exercise needs a window to start the clients in, not 10 s exactly (those are
        # checked in test_lessons.py): the copy's server waits 5 s for a silent client.
        server = folder / "tcp_server_docker.py"
        server.write_text(server.read_text().replace("\nIDLE_TIMEOUT = 10 ", "\nIDLE_TIMEOUT = 5 "))
        image = own_image(self, folder)
        options = {"files": ["wire/capture.yml"], "folder": folder}
        self.up("tcp-server", "tcp-capture", **options)
        self.assertEqual(docker("inspect", "-f", "{{.Config.Image}}", "tcp-server")[1].strip(), image)
        wait_until(lambda: "Waiting for a connection..." in self.log("tcp-server"), 30, "tcp-server")
        # Nothing waits for tcpdump here but the student, who types slower than it starts.
        wait_until(lambda: any("listening on" in line for line in self.service_log("tcp-capture", 2)),
                   20, "the capture listening")
        silent = wait_until(lambda: connect_or_none(("127.0.0.1", 10000)), 10, "the silent client")
        self.addCleanup(silent.close)
        wait_until(lambda: any(line.startswith("Connection from") for line in self.log("tcp-server")),
                   10, "the silent client's connection")
        self.compose("up", "-d", "--scale", "tcp-client=3", "tcp-client", **options)  # the README's, detached
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

        # On the wire: each queued client's 91 bytes leave at once and the server's kernel
        # acknowledges them at once; only the echo waits for the FIN to the silent client.
        silent.close()
        # Stopped once each connection's two FINs are captured: counting packets instead
        # would depend on how many segments each echo took on a busy machine.

        def both_fins_of_all_four():
            log = self.service_log("tcp-capture")
            return all(sum("Flags [F" in line and way in line for line in log) >= 4
                       for way in (".10000 > ", ".10000: "))
        try:
            wait_until(both_fins_of_all_four, 20, "every FIN captured")
        except AssertionError as error:
            raise AssertionError("\n".join([str(error), *self.service_log("tcp-capture")])) from None
        self.compose("stop", "tcp-capture", **options)
        _, drawn = self.draw(folder, os.getuid())
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

    @exercise(10)
    def test_exercise_10_total_loss_ends_both_clients_with_one_line(self):
        folder = lab_copy(self, os.getuid())
        options = {"files": ["wire/impair.yml"], "folder": folder, "settings": impaired(loss_percent=100)}
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
        self.assertEqual(self.service_log("udp-impair")[0], "Impairing udp port 10001: losing 100 %")
        # The client's kernel resent its SYN, 1 s after the first, then never sooner than
        # the time before (Linux waits 1 s for the first few, or doubles every time).
        tcp = self.service_log("tcp-impair")[1:]
        self.assertEqual(set(map(lost, tcp)), {Lost("to server", "SYN", 0)})
        self.assertGreaterEqual(len(tcp), 4)
        # Their times, from impair.py's record: seconds since 1970, not times of day.
        times = [fate["time"] for fate in record(folder, "tcp")]
        self.assertEqual(len(times), len(tcp))
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        self.assertGreaterEqual(gaps[0], 0.9, gaps)
        for shorter, longer in zip(gaps, gaps[1:]):
            self.assertGreaterEqual(longer, shorter * 0.9, gaps)
        udp = [lost(line) for line in self.service_log("udp-impair")[1:]]
        self.assertEqual(udp, [Lost("to server", "", 48)] * 10)
        for name in LAB_NAMES:  # no server saw a client
            self.assertEqual(self.log(name), server_lines(name, None)[:2])

    @exercise(8)
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


class FirstFlavour:
    """Tests that do not depend on the Compose flavour: once, with the first one installed
    (known only once setUpModule has asked)."""

    @classmethod
    def setUpClass(cls):
        cls.FLAVOUR = next((name for name in COMPOSE if name in WANTED), "Compose v2")
        super().setUpClass()


class Exercises(FirstFlavour, DockerExercises, unittest.TestCase):
    pass


class Images(FirstFlavour, Lab, unittest.TestCase):
    """What a student downloads and builds carries one Python, the base image's own: the
    official python:3.13-slim is CPython under /usr/local on Debian, with no Debian
    python3, and CI's stand-in for it, built where no registry answers, must be too."""

    def run_in(self, image, script):
        code, out, err = docker("run", "--rm", "--user", "0", "--entrypoint", "sh", image, "-ec", script,
                                timeout=180)
        self.assertEqual(code, 0, err)
        return out.splitlines()

    def assert_one_python(self, image):
        self.assertEqual(self.run_in(image, "command -v python3; python3 -c 'import ctypes, sqlite3, ssl'\n"
                                     "ls /usr/bin/python3 2>&1 || true\n"
                                     "dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' 'python3*' "
                                     "'libpython3*' 2>/dev/null | grep '^ii' || true"),
                         ["/usr/local/bin/python3",
                          "ls: cannot access '/usr/bin/python3': No such file or directory"])

    def test_the_base_image_is_python_under_usr_local_without_debian_python(self):
        base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE).group(1)
        self.assertEqual(base, re.search(r"^FROM (\S+)", (ROOT / "wire" / "Dockerfile").read_text(),
                                         re.MULTILINE).group(1))
        self.assert_one_python(base)
        # A Debian python3-* package would bring Debian's python3 in beside it.
        simulated = self.run_in(base, "apt-get update -qq; apt-get install -s python3-dpkt")
        self.assertIn("python3", [line.split()[1] for line in simulated if line.startswith("Inst ")])

    def test_the_wire_image_runs_its_tools_with_the_base_images_python(self):
        self.compose("build", "draw", files=["wire/draw.yml"], timeout=600)
        self.assert_one_python("socket-lab-wire")
        self.assertEqual(self.run_in("socket-lab-wire", "python3 -c 'import dpkt; print(dpkt.__version__)'\n"
                                     "python3 -c 'import netfilterqueue; print(netfilterqueue.VERSION)'\n"
                                     "head -n 1 /usr/local/bin/draw.py /usr/local/bin/impair.py\n"
                                     "command -v gcc cc || echo no compiler"),
                         ["1.9.8", "(1, 1, 0)", "==> /usr/local/bin/draw.py <==", "#!/usr/bin/env python3",
                          "", "==> /usr/local/bin/impair.py <==", "#!/usr/bin/env python3", "no compiler"])
        dockerfile = (ROOT / "wire" / "Dockerfile").read_text()
        self.assertEqual(re.findall(r"\b(dpkt|NetfilterQueue)==(\S+)", dockerfile),
                         [("NetfilterQueue", "1.1.0"), ("dpkt", "1.9.8")])
        # Its stages' unit tests, with the image's own Python and dpkt (elsewhere they
        # need dpkt installed), and draw.py as wire/draw.yml runs it: on an empty
        # folder, its one line.
        code, _, err = docker("run", "--rm", "--network", "none", "-v", f"{ROOT / 'tests'}:/lab/tests:ro",
                              "-v", f"{ROOT / 'wire'}:/lab/wire:ro", "socket-lab-wire", "python3", "-m",
                              "unittest", "discover", "-s", "/lab/tests", "-p", "test_draw.py")
        self.assertEqual(code, 0, err)
        self.assertRegex(err, r"\nRan [1-9]\d* tests in .*\n\nOK\n$")
        code, out, err = docker("run", "--rm", "--network", "none", "--user", "65534",
                                "socket-lab-wire", "draw.py", "/tmp")
        self.assertEqual((code, out, err.splitlines()), (1, "", [
            "Error: no capture in wire/captures: run the lab with it first: "
            "docker compose -f docker-compose.yml -f wire/capture.yml up --build"]))
