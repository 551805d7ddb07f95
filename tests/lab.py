"""The lab's harness: run the lab on one container engine, and read what it did.

An engine is a Compose program with the container command beside it: Compose v2
(`docker compose`), legacy `docker-compose`, and `podman-compose` with `podman`, rootful
(as root) or rootless (as an ordinary user). A test class names one (`ENGINE`) and mixes
in `Lab`; every method of `Lab` means the same on each. Nothing here runs an engine
command on import: the engines are found when the first test class asks.

LAB_COMPOSE chooses: `v2`, `legacy`, `docker` (both) or `podman` (rootful and
rootless); unset, every engine installed. REQUIRE_DOCKER=1 and REQUIRE_PODMAN=1 turn a missing engine from a
skip into a failure. PODMAN_COMPOSE names a podman-compose off the PATH, PODMAN_USER the
rootless user when the tests run as root (uid 1234 unless set).
"""
from __future__ import annotations

import datetime
import functools
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path
from typing import NamedTuple

from handout import LOSS_RUN, wire_commands
from handout import PODMAN as PODMAN_SECTION
from support import (CLIENTS_DONE, COMPOSE_COMMAND, ENGINE_COMMAND, ROOT, SHORT, fold, mermaid_check,
                     wait_until)
from wire_output import arrows, impaired, lost, text_arrows, the_teardown_is_over

LAB_NAMES = ("tcp-server", "udp-server")  # the fixed container names of docker-compose.yml
NETWORK = "socket-network"
OTHER_USER = 1234  # the owner of a clone that is not the tests' own
STOP = ("-t", "1")  # seconds a `down` or `stop` gives a container before it kills it


class Engine(NamedTuple):
    name: str           # "Compose v2", "legacy", "Podman" or "rootless Podman"
    compose: tuple      # the Compose program as the README types it
    cli: tuple          # the container command, as the user who runs the lab
    uid: int            # that user, who owns the clones the lab runs from
    project_label: str  # the label in which Compose keeps the project's name
    service_field: str  # the `ps --format` field of a container's service
    not_run: tuple      # `ps` filters that leave out `compose run`'s containers

    @property
    def podman(self):
        return self.cli[-1] == "podman"

    @property
    def rootless(self):
        return self.podman and self.uid != 0


def docker(*args, timeout=ENGINE_COMMAND):
    """Run a docker command; return (exit code, stdout, stderr)."""
    done = subprocess.run(["docker", *args], capture_output=True, encoding="utf-8", timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def docker_engine_answers():
    try:
        return shutil.which("docker") is not None and docker("info", timeout=30)[0] == 0
    except subprocess.TimeoutExpired:
        return False


def compose_commands():
    """The Compose flavours installed here, {flavour: command}, told apart by the version
    each reports, not by its name: Debian trixie's and Docker Desktop's `docker-compose`
    are Compose v2 (legacy docker-compose is 1.x). One command a flavour, `docker compose`
    first."""
    found = {}
    for command in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(command[0]):
            continue
        done = subprocess.run([*command, "version", "--short"], capture_output=True,
                              encoding="utf-8", timeout=30)
        if done.returncode == 0:
            major = done.stdout.strip().lstrip("v").split(".")[0]
            found.setdefault("legacy" if major == "1" else "Compose v2", command)
    return found


def rootless_user():
    """Who runs rootless Podman: (uid, name) of the tests' own user, or, as root, of
    PODMAN_USER (uid 1234 unless set); None if there is no such user."""
    if os.getuid() != 0:
        return os.getuid(), pwd.getpwuid(os.getuid()).pw_name
    wanted = os.environ.get("PODMAN_USER", str(OTHER_USER))
    try:
        entry = pwd.getpwuid(int(wanted)) if wanted.isdigit() else pwd.getpwnam(wanted)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_name


PODMAN_COMPOSE_VERSION = {}  # podman's and podman-compose's, as podman-compose reports them


DOCKER = ("com.docker.compose.project", '{{.Label "com.docker.compose.service"}}',
          ("--filter", "label=com.docker.compose.oneoff=False"))
PODMAN = ("io.podman.compose.project", '{{index .Labels "com.docker.compose.service"}}', ())


@functools.lru_cache(maxsize=None)
def find(name):
    """The engine of that name, or the reason it is not here; asked once, when the first
    test class that wants it starts."""
    if name in ("Compose v2", "legacy"):
        if not docker_engine_answers():
            return "no Docker engine answers `docker info`"
        flavours = compose_commands()
        return Engine(name, tuple(flavours[name]), ("docker",), os.getuid(), *DOCKER) if name in flavours \
            else f"{name} is not installed"
    program = os.environ.get("PODMAN_COMPOSE") or shutil.which("podman-compose")
    reason = podman_compose_too_old(program)
    user = rootless_user() if name == "rootless Podman" else (0, "root") if os.getuid() == 0 else None
    if reason or not user:
        return reason or ("rootful Podman needs root" if name == "Podman" else
                          "no user to run rootless Podman as (useradd one, or set PODMAN_USER)")
    prefix = ("runuser", "-u", user[1], "--") if user[0] != os.getuid() else ()
    return Engine(name, (*prefix, program), (*prefix, "podman"), user[0], *PODMAN)


def podman_compose_too_old(program):
    """Why podman-compose cannot run the lab here (missing, or older than the README's
    minimum), or None."""
    if not (shutil.which("podman") and program):
        return "podman and podman-compose are not both installed"
    said = subprocess.run([program, "version"], capture_output=True, encoding="utf-8", timeout=60,
                          cwd="/").stdout
    PODMAN_COMPOSE_VERSION["podman"] = re.search(r"^podman version (\S+)", said, re.MULTILINE).group(1)
    version = re.search(r"^podman-compose version (\d+)\.(\d+)\S*", said, re.MULTILINE)
    PODMAN_COMPOSE_VERSION["podman-compose"] = version.group(0)
    oldest = re.search(r"`podman-compose`, version (\d+)\.(\d+) or newer", fold(PODMAN_SECTION))
    if tuple(map(int, version.groups())) < tuple(map(int, oldest.groups())):
        return f"{version.group(0)} is older than the README's {'.'.join(oldest.groups())}"
    return None


WANTED = {"v2": ["Compose v2"], "legacy": ["legacy"], "docker": ["Compose v2", "legacy"],
          "podman": ["Podman", "rootless Podman"], "": ["Compose v2", "legacy", "Podman", "rootless Podman"]}


def engine(name):
    """The engine a test class asked for, by name; or "Docker", the first Docker Compose
    chosen and installed (for what does not depend on the flavour), and "the other
    Compose", the second. Not chosen by LAB_COMPOSE, or not here, it is a skip; not here
    with REQUIRE_DOCKER=1 or REQUIRE_PODMAN=1, a failure."""
    chosen = WANTED[os.environ.get("LAB_COMPOSE", "")]
    if name in ("Docker", "the other Compose"):
        here = [n for n in chosen if n in ("Compose v2", "legacy") and isinstance(find(n), Engine)]
        if name == "the other Compose" and len(here) < 2:
            raise unittest.SkipTest(f"one Docker Compose here ({', '.join(here) or 'none'}): "
                                    "the first ran these")
        name = here[name != "Docker"] if here else "Compose v2"
    if name not in chosen:
        raise unittest.SkipTest(f"LAB_COMPOSE={os.environ['LAB_COMPOSE']}")
    found = find(name)
    if isinstance(found, str):
        required = os.environ.get("REQUIRE_PODMAN" if "Podman" in name else "REQUIRE_DOCKER") == "1"
        if required:
            raise AssertionError(f"{name} is required, but {found}")
        raise unittest.SkipTest(found)
    nothing_running_yet(found)
    return found


@functools.lru_cache(maxsize=None)
def nothing_running_yet(engine):
    """Before an engine's first test: no lab of the student's runs on it (the tests would
    take it over, or fail on its names and ports)."""
    found = existing_lab(engine)
    if found:
        raise AssertionError(f"a lab is already running here ({', '.join(found)}); these tests will "
                             f"not take it over: stop it with `{' '.join(engine.compose[-2:])} down` first")


def run_cli(engine, *args, timeout=ENGINE_COMMAND):
    """The engine's container command (docker, or podman as its user): (code, stdout, stderr)."""
    done = subprocess.run([*engine.cli, *args], capture_output=True, encoding="utf-8", timeout=timeout,
                          cwd="/")
    return done.returncode, done.stdout, done.stderr


def existing_lab(engine=None):
    """What of a lab exists already on an engine (Docker's by default): containers with the
    fixed names, the network."""
    cli = engine.cli if engine else ("docker",)
    found = [name for name in LAB_NAMES if subprocess.run(
        [*cli, "ps", "-aq", "--filter", f"name=^/?{name}$"], capture_output=True, encoding="utf-8",
        timeout=ENGINE_COMMAND, cwd="/").stdout.strip()]
    if subprocess.run([*cli, "network", "ls", "-q", "--filter", f"name=^{NETWORK}$"], capture_output=True,
                      encoding="utf-8", timeout=ENGINE_COMMAND, cwd="/").stdout.strip():
        found.append(f"network {NETWORK}")
    return found


def clone(test, owner):
    """A copy of the lab as a fresh clone owned by uid `owner` has it, in a folder of its own
    that its owner can enter; removed when the test ends."""
    folder = tempfile.mkdtemp(prefix="socketlab-clone-")
    test.addCleanup(shutil.rmtree, folder, ignore_errors=True)
    copy = Path(shutil.copytree(ROOT, os.path.join(folder, "lab"), ignore=shutil.ignore_patterns(
        ".git", ".ci", "tests", "__pycache__", ".ruff_cache", ".venv", "*.pcap", "*.jsonl", "tcp.md",
        "udp.md")))
    for directory, names, files in os.walk(folder):
        for name in [directory, *(os.path.join(directory, f) for f in names + files)]:
            os.lchown(name, owner, owner)
    os.chmod(folder, 0o755)
    return copy


def own_image(test, folder):
    """Give a copy of the lab whose scripts a test edits an image of its own: the edited
    scripts never end up in `socket-lab`, which other tests and the student use."""
    name = f"socket-lab-test-{os.getpid()}-{id(test)}"
    compose_file = folder / "docker-compose.yml"
    ours = re.sub(r"^(    image: )socket-lab\b(?!-)", rf"\g<1>{name}", compose_file.read_text(),
                  flags=re.MULTILINE)
    test.assertEqual(ours.count(f"image: {name}"), 4)  # the four services'
    compose_file.write_text(ours)
    test.addCleanup(test.cli, "rmi", name)
    return name


def connect_or_none(address):
    """A TCP connection to address, or None if nothing listens there yet."""
    try:
        return socket.create_connection(address, timeout=SHORT)
    except OSError:
        return None


def base_image():
    """The image both Dockerfiles start from (one, or the test fails)."""
    bases = {re.search(r"^FROM (\S+)", (ROOT / name).read_text(), re.MULTILINE).group(1)
             for name in ("Dockerfile", "wire/Dockerfile")}
    assert len(bases) == 1, bases
    return bases.pop()


def logged_at(line):
    """The time of a `logs --timestamps` line. Docker trims the nanoseconds' trailing
    zeros, so the stamps must be read as times, not compared as text."""
    whole, _, fraction = line.split(" ", 1)[0].rstrip("Z").partition(".")
    whole = re.sub(r"[+-]\d\d:\d\d$", "", whole)
    return datetime.datetime.fromisoformat(whole) + datetime.timedelta(
        microseconds=int((fraction + "000000")[:6]))


def starter(cls, name="runTest"):
    """A test of the class to start a class's lab with, outside any test: its asserts
    work, and its cleanups are kept in a list for take_down (unittest's doCleanups, run
    outside a test, would swallow a failing `down` out of sight)."""
    started = cls(name)
    started.setUp()
    kept = []
    started.addCleanup = lambda function, *args, **kwargs: kept.append((function, args, kwargs))
    return started, kept


def take_down(cleanups):
    """Run kept cleanups, last first, every one of them; raise the first failure."""
    failures = []
    while cleanups:
        function, args, kwargs = cleanups.pop()
        try:
            function(*args, **kwargs)
        except Exception as error:  # the others run first
            failures.append(error)
    if failures:
        raise failures[0]


class Lab:
    """A test class's lab on its engine (ENGINE: "Compose v2", "legacy", "Podman", "rootless
    Podman", or "Docker", the first Docker Compose): each test runs it from a fresh clone
    of its own, under a project name of its own, and takes it down when it ends."""

    ENGINE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engine = engine(cls.ENGINE)
        cls.project = f"socketlabtest{os.getpid()}{cls.__name__.lower()}"

    def setUp(self):
        super().setUp()
        self.folder = getattr(type(self), "shared_folder", None)

    @classmethod
    def up_for_the_class(cls, *services, **options):
        """One lab for all the tests of a class, which only look at it: up once, before the
        first, and down after the last (a `down` that fails is an error of the class)."""
        started, cleanups = starter(cls)
        cls.addClassCleanup(take_down, cleanups)
        started.up(*services, **options)
        cls.shared_folder = started.folder
        return started

    # Running it.

    def clone(self, owner=None):
        """This test's lab: a fresh clone owned by `owner` (the engine's user by default)."""
        self.folder = clone(self, self.engine.uid if owner is None else owner)
        return self.folder

    def run_lab(self, *files, owner=None, **impairments):
        """Run a fresh clone (owned by `owner`) with the main file and these `files`, and
        impair.py's settings as keyword arguments (none: a perfect network): `up --build`,
        until both clients have exited. Their exit codes; the files and the settings are
        kept in self.options for the test's later commands."""
        self.clone(owner)
        self.options = {"files": list(files), "settings": impaired(**impairments)}
        self.up(**self.options)
        return self.wait_for_clients("tcp-client", "udp-client")

    def compose(self, *args, files=(), settings=None, check=True, project=None, timeout=COMPOSE_COMMAND):
        """The Compose program on this test's clone, as a student types it: `-f` with each
        of `files` after the main file, `settings` in the environment in front. A failure
        fails the test, unless check=False."""
        if self.folder is None:
            self.clone()
        files = ["-f", "docker-compose.yml", *(w for name in files for w in ("-f", name))] if files else []
        done = subprocess.run([*self.engine.compose, "-p", project or self.project, *files, *args],
                              cwd=self.folder, env={**os.environ, **(settings or {})},
                              capture_output=True, encoding="utf-8", timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(self.engine.compose[-2:])} {' '.join(args)} failed:\n"
                                 f"{done.stdout}{done.stderr}")
        return done

    def up(self, *services, build=True, **options):
        """`up --build -d` (or with images built already, `--no-build`), taken down when the
        test ends; a `down` that fails fails the test."""
        self.down_at_the_end(**options)
        return self.compose("up", "--build" if build else "--no-build", "-d", *services, **options)

    def down_at_the_end(self, **options):
        """`down` when the test ends, failed or not (before its clone is removed)."""
        if self.folder is None:
            self.clone()
        self.addCleanup(self.down, **options)

    def queue_behind_a_silent_client(self, *services, idle_timeout, **options):
        """Exercise 1 as the README starts it: the TCP server (with `services`, in a copy
        whose server drops a silent client after `idle_timeout` seconds, built into an image
        of its own), a client of this computer that connects and says nothing, then three
        clients (`up --scale tcp-client=3`), run to their end. The silent client's socket,
        still open. (A capture among the services is listening before the first SYN.)"""
        server = self.clone() / "tcp_server_docker.py"
        server.write_text(server.read_text().replace("\nIDLE_TIMEOUT = 10 ",
                                                     f"\nIDLE_TIMEOUT = {idle_timeout} "))
        image = own_image(self, self.folder)
        self.up("tcp-server", *services, **options)
        self.assertEqual(self.checked("inspect", "-f", "{{.Config.Image}}", "tcp-server").strip(), image)
        wait_until(lambda: "Waiting for a connection..." in self.log("tcp-server"), 30, "tcp-server")
        if "tcp-capture" in services:  # nothing else waits for it: the student types slower
            wait_until(lambda: any("listening on" in line for line in self.log("tcp-capture", 2)),
                       20, "the capture listening")
        silent = wait_until(lambda: connect_or_none(("127.0.0.1", 10000)), 10, "the silent client")
        self.addCleanup(silent.close)
        wait_until(lambda: any(line.startswith("Connection from") for line in self.log("tcp-server")),
                   10, "the silent client's connection")
        self.compose("up", "-d", "--scale", "tcp-client=3", "tcp-client", **options)  # the README's, detached
        self.assertEqual(self.wait_for_clients("tcp-client", count=3), [0, 0, 0])
        return silent

    def down(self, **options):
        """`down`, and nothing of the project left behind."""
        self.compose("down", *STOP, **options)
        self.assertEqual(self.containers(), [])

    def cli(self, *args, timeout=ENGINE_COMMAND):
        """docker, or podman as the engine's user: (exit code, stdout, stderr)."""
        return run_cli(self.engine, *args, timeout=timeout)

    def checked(self, *args, timeout=ENGINE_COMMAND):
        """cli, failing the test if it fails: its stdout."""
        code, out, err = self.cli(*args, timeout=timeout)
        self.assertEqual(code, 0, f"{' '.join(args)}: {err}")
        return out

    # What it did.

    def containers(self, *services, status=None):
        """The names of the services' containers (no service: all of the project's), in any
        state or in one, in the order the services are named."""
        out = self.checked("ps", "-a", "--filter", f"label={self.engine.project_label}={self.project}",
                           *self.engine.not_run, *(["--filter", f"status={status}"] if status else []),
                           "--format", f"{{{{.Names}}}} {self.engine.service_field}")
        found = [line.split() for line in out.splitlines()]
        if not services:
            return [name for name, _ in found]
        return [name for wanted in services for name, service in sorted(found) if service == wanted]

    def container(self, service):
        """The one container of a service."""
        names = self.containers(service)
        self.assertEqual(len(names), 1, f"{service}: {names}")
        return names[0]

    def state(self, service):
        """(status, exit code) of a service's container."""
        return tuple(self.checked("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                                  self.container(service)).split())

    def inspect(self, service, template="{{json .}}"):
        """One of `inspect`'s fields of a service's container, as JSON."""
        return json.loads(self.checked("inspect", "-f", template, self.container(service)))

    def wait_for_clients(self, *services, count=1):
        """Wait until `count` containers of each client service have exited; their exit codes."""
        def exited():
            names = self.containers(*services, status="exited")
            return len(names) == count * len(services) and [
                int(self.checked("inspect", "-f", "{{.State.ExitCode}}", name)) for name in names]
        return wait_until(exited, CLIENTS_DONE, f"clients {services} exiting")

    def clients_succeed(self, *services):
        """Every client exited 0; if not, the failure shows what they printed."""
        codes = self.wait_for_clients(*services)
        said = {service: self.log(service) + self.log(service, 2) for service in services}
        self.assertEqual(codes, [0] * len(services), said)

    def container_log(self, name, stream=1):
        """What a container printed: its stdout lines, or its stderr lines (stream=2)."""
        code, out, err = self.cli("logs", name)
        self.assertEqual(code, 0, err)
        return (out if stream == 1 else err).splitlines()

    def log(self, service, stream=1):
        """What a service's one container printed (stream 1 or 2)."""
        return self.container_log(self.container(service), stream)

    def timed_log(self, service):
        """A service's lines, each as (time, line), from `logs --timestamps`."""
        out = self.checked("logs", "--timestamps", self.container(service))
        return [(logged_at(line), line.split(" ", 1)[1]) for line in out.splitlines()]

    # The wire's tools.

    def read_capture(self, name):
        """The wire image reads one of this clone's pcap files back, as tcpdump lines, as
        the file's owner (rootless: the user's own root)."""
        user = [] if self.engine.rootless else ["--user", f"{self.owner()}:{self.owner()}"]
        return self.checked("run", "--rm", *user, "-v", f"{self.folder / 'wire' / 'captures'}:/captures:ro",
                            "socket-lab-wire", "tcpdump", "-r", f"/captures/{name}", "-n").splitlines()

    def owner(self):
        return self.folder.stat().st_uid

    def record(self, protocol):
        """impair.py's record of a run: one dict per packet, as it wrote them."""
        path = self.folder / "wire" / "captures" / f"{protocol}-impair.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def draw(self, check=True):
        """wire/draw.yml's command on this clone; with check, what every drawing must be:
        ladders within 79 columns, the same arrows as text and as Mermaid, valid Mermaid,
        the diagrams and records owned by the clone's owner. (printed lines, {protocol: md})."""
        done = self.compose("run", "--rm", "draw", files=["wire/draw.yml"], check=check)
        if not check:
            return done
        captures = self.folder / "wire" / "captures"
        owner = self.owner()
        for path in [*captures.glob("*.pcap"), *captures.glob("*.md")]:  # yours, not root's
            self.assertEqual((path.stat().st_uid, path.stat().st_gid), (owner, owner), path)
        lines = done.stdout.splitlines()
        self.assertEqual([line for line in lines if len(line) > 79], [])
        drawn = {protocol: (captures / f"{protocol}.md").read_text() for protocol in ("tcp", "udp")
                 if f"wire/captures/{protocol}.md" in lines[-1]}
        for protocol, diagram in drawn.items():
            tally = diagram.splitlines()[-1]
            self.assertIn(tally, lines)
            self.assertTrue(tally.startswith(f"{protocol.upper()}: "))
        checked = mermaid_check(*(captures / f"{p}.md" for p in drawn))
        if checked:  # valid Mermaid 11, when the tests are given a parser (CI: every drawing)
            self.assertEqual(checked[0], 0, checked[1])
        for (protocol, diagram), ladder in zip(drawn.items(), "\n".join(lines).split("\n\n")):
            self.assertIn(f"{protocol}-client", ladder.splitlines()[0])
            self.assertEqual(text_arrows(ladder.splitlines()),
                             [(sender, lost) for sender, _, lost in arrows(diagram)])
        return lines, drawn


RULES = "-j NFQUEUE --queue-num 0 --queue-bypass"  # how each of impair.py's iptables rules ends


class WireLab(Lab):
    """A lab with the wire's tools: what their tests (test_wire.py, test_podman.py) do with it."""

    def stop_captures(self, **options):
        """Wait for the end of the TCP teardown in the live view, then stop both captures
        (and impair.py, whose record ends with the capture)."""
        wait_until(lambda: the_teardown_is_over(self.log("tcp-capture")), 20,
                   "the live view showing the end of the teardown")
        services = ["tcp-capture", "udp-capture"]
        if "wire/impair.yml" in options["files"]:
            services += ["tcp-impair", "udp-impair"]
        self.compose("stop", *services, **options)

    def assert_least_privilege(self, service, capabilities, server):
        """Not privileged, every capability dropped but these, in the server's namespace."""
        host = self.inspect(service, "{{json .HostConfig}}")
        self.assertEqual([c.replace("CAP_", "") for c in host["CapDrop"]], ["ALL"])
        self.assertEqual({c.replace("CAP_", "") for c in host["CapAdd"]}, capabilities)
        self.assertFalse(host["Privileged"])
        server_id = self.inspect(server, "{{json .Id}}")
        self.assertIn(host["NetworkMode"], (f"container:{server_id}", f"container:{self.container(server)}"))

    def the_readme_drop_log(self, service):
        """An impair service's log begins as wire/README.md's LOSS_EVERY=4 run: its first line,
        then the same packets lost (addresses and ports aside). Every packet it lost."""
        log = self.log(service)
        self.assertEqual(log[0], LOSS_RUN[service][0])
        dropped = [lost(line) for line in log[1:]]
        shown = [lost(line) for line in LOSS_RUN[service][1:]]
        self.assertEqual(dropped[:len(shown)], shown)
        return dropped

    def one_set_of_rules(self, service, protocol, port):
        """impair.py's rules in its server's namespace, once: iptables' and nftables'."""
        rules = self.checked("exec", self.container(service), "iptables", "-S")
        self.assertEqual([line for line in rules.splitlines() if line.startswith("-A")], [
            f"-A INPUT -p {protocol} -m {protocol} --dport {port} {RULES}",
            f"-A OUTPUT -p {protocol} -m {protocol} --sport {port} {RULES}"])
        tables = self.checked("exec", self.container(service), "nft", "list", "tables")
        self.assertEqual(tables.count("table ip socket_lab_copies"), 1, tables)

    def run_the_readme(self, heading, upto):
        """Run the commands of a wire/README.md section in order after its first (`up`, which
        run_lab ran) up to the one whose arguments begin with `upto`, which is returned, not
        run."""
        commands = wire_commands(heading)
        self.assertEqual(commands[0][1][0], "up")
        for files, args in commands[1:]:
            self.assertEqual(files[:len(self.options["files"])], self.options["files"][:len(files)], args)
            if args[:len(upto)] == upto:
                return args
            self.compose(*args, **self.options)
        raise AssertionError(f"no {upto} in {heading}")

    def the_end_after_the_lost_fin(self, ladder, shown):
        """A drawn LOSS_EVERY=4 run is wire/README.md's up to the server's lost FIN (13 arrows).
        Then either nobody answers, as in that run: the server sends its FIN again and again;
        or the client's network outlived the client (a busy computer, Podman): its kernel
        sends its own FIN again, the server's acknowledges it (a D-SACK: it had it already) and
        sends its FIN again, and the client's ACK 93 ends the connection (every fourth of these
        lost too, and sent again)."""
        self.assertEqual(ladder[:13], shown[:13])
        server_again = ("S", "FIN, sent again after")
        for rest in (ladder[13:], shown[13:]):
            self.assertIn(server_again, [arrow[:2] for arrow in rest])
        rest = {arrow[:2] for arrow in ladder[13:]}
        if any(sender == "C" for sender, _ in rest):
            self.assertLessEqual(rest, {server_again, ("C", "FIN, sent again after"),
                                        ("S", "ACK 93, D-SACK 92"), ("C", "ACK 93"),
                                        ("C", "duplicate ACK 93")}, ladder)
        else:
            self.assertEqual(rest, {server_again}, ladder)
