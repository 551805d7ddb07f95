"""The lab on Podman, with podman-compose in place of `docker compose`: the same Compose
files, run rootful (as root) and rootless (as an ordinary user, with images of its own).

Skipped without podman and podman-compose; with REQUIRE_PODMAN=1 they fail instead.
Rootless runs as whoever runs the tests; run as root, it runs as the user with uid 1234
(CI creates it; PODMAN_USER names another). LAB_COMPOSE, when set, must be `podman`.
"""
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import types
import unittest

import test_docker as docker_tests
from support import ROOT, TCP_MESSAGE, UDP_MESSAGE, compose, fold, mermaid_check, run, wait_until
from test_docker import ADDRESS, LAB_NAMES, NETWORK, README, README_RUN, arrows, drawn_in_readme, packet

REQUIRED = os.environ.get("REQUIRE_PODMAN") == "1"
WANTED = os.environ.get("LAB_COMPOSE", "podman") == "podman"
PODMAN_COMPOSE = os.environ.get("PODMAN_COMPOSE") or shutil.which("podman-compose")
PODMAN_SECTION = README.split("\n## Podman instead of Docker\n", 1)[1].split("\n## ", 1)[0]
OLDEST = re.search(r"`podman-compose`, version (\d+)\.(\d+) or newer", fold(PODMAN_SECTION))
ROOTLESS_USER = os.environ.get("PODMAN_USER", "1234")
VERSIONS = {}  # podman's and podman-compose's, as podman-compose reports them


def rootless_user():
    """The user the rootless tests run as: (uid, name), or None."""
    if os.getuid() != 0:
        return os.getuid(), pwd.getpwuid(os.getuid()).pw_name
    try:
        entry = (pwd.getpwuid(int(ROOTLESS_USER)) if ROOTLESS_USER.isdigit()
                 else pwd.getpwnam(ROOTLESS_USER))
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_name


def setUpModule():
    if not WANTED:
        raise unittest.SkipTest(f"LAB_COMPOSE={os.environ['LAB_COMPOSE']}")
    missing = [name for name, found in (("podman", shutil.which("podman")),
                                        ("podman-compose", PODMAN_COMPOSE)) if not found]
    if missing:
        if REQUIRED:
            raise AssertionError(f"REQUIRE_PODMAN=1, but {' and '.join(missing)} not found")
        raise unittest.SkipTest(f"{' and '.join(missing)} not installed: the Podman tests need both")
    versions = subprocess.run([PODMAN_COMPOSE, "version"], capture_output=True, encoding="utf-8",
                              timeout=60, cwd="/").stdout
    VERSIONS["podman"] = re.search(r"^podman version (\S+)", versions, re.MULTILINE).group(1)
    found = re.search(r"^podman-compose version (\d+)\.(\d+)\S*", versions, re.MULTILINE)
    print(f"\n{found.group(0)}, podman {VERSIONS['podman']}", end=" ")
    if tuple(map(int, found.groups())) < tuple(map(int, OLDEST.groups())):
        raise unittest.SkipTest(f"{found.group(0)} is older than the README's {'.'.join(OLDEST.groups())}")


class PodmanLab:
    """Runs the lab with podman-compose, as one user; the two test classes at the end."""

    ROOTLESS = None

    @classmethod
    def setUpClass(cls):
        if cls.ROOTLESS:
            user = rootless_user()
            if not user:
                reason = f"no user {ROOTLESS_USER} to run rootless Podman as (useradd, or set PODMAN_USER)"
                if REQUIRED:
                    raise AssertionError(reason)
                raise unittest.SkipTest(reason)
            cls.uid, name = user
            # As root, run as the user, with the user's own environment for Podman.
            cls.prefix = [] if os.getuid() else ["runuser", "-u", name, "--"]
        else:
            if os.getuid() != 0:
                raise unittest.SkipTest("rootful Podman needs root")
            cls.uid, cls.prefix = 0, []
        cls.project = f"socketlabtest{os.getpid()}{cls.__name__.lower()}"
        # Rootless, the lab is a clone of the user's own: this one may be out of its reach.
        cls.folder = ROOT
        if cls.ROOTLESS:
            cls.folder = docker_tests.lab_copy(types.SimpleNamespace(addCleanup=cls.addClassCleanup), cls.uid)
            os.chmod(cls.folder.parent, 0o755)  # the temporary folder that holds it
        found = cls.existing_lab()
        if found:
            raise AssertionError(f"a lab is already running in this Podman ({', '.join(found)}); these "
                                 "tests will not take it over: stop it with `podman-compose down` first")

    @classmethod
    def podman(cls, *args, timeout=60, cwd=None):
        """Run a podman command as this class's user; return (exit code, stdout, stderr)."""
        done = subprocess.run([*cls.prefix, "podman", *args], capture_output=True, encoding="utf-8",
                              timeout=timeout, cwd=cwd or "/")
        return done.returncode, done.stdout, done.stderr

    @classmethod
    def existing_lab(cls):
        found = [name for name in LAB_NAMES if cls.podman("container", "exists", name)[0] == 0]
        if cls.podman("network", "exists", NETWORK)[0] == 0:
            found.append(f"network {NETWORK}")
        return found

    def lab_copy(self):
        """A fresh clone as this class's user has it (rootful: another user's, uid 1234 too)."""
        owner = self.uid or 1234
        copy = docker_tests.lab_copy(self, owner)
        os.chmod(copy.parent, 0o755)  # the temporary folder that holds it: open to its owner
        os.chown(copy.parent, owner, owner)
        return copy, owner

    def compose(self, *args, folder=None, timeout=300, **options):
        """podman-compose on the lab in `folder` (the class's own by default), as this class's
        user: support.compose, as the README's commands run it."""
        return compose([*self.prefix, PODMAN_COMPOSE, "-p", self.project], *args,
                       folder=folder or self.folder, timeout=timeout, **options)

    def up(self, *args, **options):
        """`up --build -d`, torn down with `down` when the test ends."""
        self.addCleanup(self.compose, "down", "-t", "1", check=False, **options)
        return self.compose("up", "--build", "-d", *args, **options)

    def containers(self, *services, status=None):
        """{container name: service} of this project's containers (no services: all)."""
        code, out, err = self.podman(
            "ps", "-a", "--filter", f"label=io.podman.compose.project={self.project}",
            *(["--filter", f"status={status}"] if status else []),
            "--format", '{{.Names}} {{index .Labels "com.docker.compose.service"}}')
        self.assertEqual(code, 0, err)
        return {name: service for name, service in map(str.split, out.splitlines())
                if not services or service in services}

    def state(self, container):
        code, out, err = self.podman("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container)
        self.assertEqual(code, 0, err)
        return tuple(out.split())

    def wait_for_clients(self, *services):
        """Wait until each client service's container has exited; return their exit codes."""
        def exited():
            done = self.containers(*services, status="exited")
            return len(done) == len(services) and [
                int(self.state(name)[1]) for service in services
                for name, its in done.items() if its == service]
        return wait_until(exited, 90, f"clients {services} exiting")

    def check_clients_succeed(self, *services):
        """Both clients exited 0; if not, the failure shows what they printed."""
        codes = self.wait_for_clients(*services)
        said = {service: self.service_log(service) + self.service_log(service, 2) for service in services}
        self.assertEqual(codes, [0] * len(services), said)

    def log(self, container, stream=1):
        code, out, err = self.podman("logs", container)
        self.assertEqual(code, 0, err)
        return (out if stream == 1 else err).splitlines()

    def service_log(self, service, stream=1):
        return self.log(next(iter(self.containers(service))), stream)

    def read_capture(self, folder, name):
        """The wire image reads a pcap back, as tcpdump lines."""
        code, out, err = self.podman("run", "--rm", "-v", f"{folder / 'wire' / 'captures'}:/captures:ro",
                                     "socket-lab-wire", "tcpdump", "-r", f"/captures/{name}", "-n")
        self.assertEqual(code, 0, err)
        return out.splitlines()

    def check_clients_print_the_handout(self):
        self.assertEqual(self.service_log("tcp-client"), [
            "Connecting to tcp-server port 10000", f"sending {TCP_MESSAGE!r}",
            *(f"received {TCP_MESSAGE[i:i + 16]!r}" for i in range(0, 91, 16)), "closing socket"])
        udp = self.service_log("udp-client")
        self.assertEqual(udp[:2], [f"Sending {UDP_MESSAGE!r} to udp-server:10001", "Waiting to receive..."])
        self.assertRegex(udp[-3], rf"^Received 48 bytes from {ADDRESS}$")
        self.assertEqual(udp[-2:], [f"Data: {UDP_MESSAGE!r}", "Closing socket"])
        for name in LAB_NAMES:
            log = self.log(name)
            client = re.fullmatch(rf"(?:Connection from|Received 48 bytes from) ({ADDRESS})",
                                  log[2]).group(1)
            self.assertEqual(log, docker_tests.server_lines(name, client))

    def check_down_leaves_nothing(self, **options):
        self.compose("down", "-t", "1", **options)
        self.assertEqual(self.containers(), {})
        self.assertEqual(self.existing_lab(), [])


class PodmanTests(PodmanLab):
    def test_lab_runs_as_the_handout_shows(self):
        started = time.monotonic()
        self.up()
        self.check_clients_succeed("tcp-client", "udp-client")
        print(f"\n    up --build -d and both clients done: {time.monotonic() - started:.1f} s", end=" ")
        self.check_clients_print_the_handout()
        # From this computer, through the published ports (rootless: Podman's port forwarder).
        self.assertEqual(run("tcp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)
        self.assertEqual(run("udp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)
        # The README's Podman commands, as written (exec without a terminal to type in).
        shown = re.search(r"```bash\n(.*?)```", PODMAN_SECTION, re.DOTALL).group(1).splitlines()
        self.assertEqual(shown, ["podman-compose up --build", "podman-compose logs tcp-client",
                                 "podman exec -it tcp-server bash", "podman-compose down"])
        logs = self.compose("logs", "tcp-client").stdout
        self.assertIn("closing socket", logs)
        code, out, err = self.podman("exec", "tcp-server", "bash", "-c", "id -u")
        self.assertEqual((code, out.strip()), (0, "65534"), err)

        started = time.monotonic()
        self.compose("stop", "tcp-server")
        self.assertLess(time.monotonic() - started, docker_tests.SLOW_STOP / 2)
        self.assertEqual(self.state("tcp-server"), ("exited", "0"))
        self.assertEqual(self.log("tcp-server")[-1], "Stopping TCP server")
        self.check_down_leaves_nothing()

    def test_ctrl_c_on_an_attached_up(self):
        """Ctrl-C in the terminal of `podman-compose up --build`: the terminal sends SIGINT to
        every process of the command. Both servers stop at once, cleanly; podman-compose then
        starts a `down` of its own, which may or may not finish before it exits. Or, now and
        then, podman-compose never exits (the README's asyncio bug): Ctrl-\\ ends it."""
        self.addCleanup(self.compose, "down", "-t", "1", check=False)
        attached = subprocess.Popen([*self.prefix, PODMAN_COMPOSE, "-p", self.project, "up", "--build"],
                                    cwd=self.folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    encoding="utf-8", start_new_session=True)
        self.addCleanup(lambda: attached.poll() is not None or os.killpg(attached.pid, signal.SIGKILL))
        self.check_clients_succeed("tcp-client", "udp-client")
        os.killpg(attached.pid, signal.SIGINT)
        closings = (("tcp-server", "Stopping TCP server"), ("udp-server", "Stopping UDP server"))
        try:
            shown, _ = attached.communicate(timeout=docker_tests.SLOW_STOP / 2)
        except subprocess.TimeoutExpired:
            # Hung with no podman command left to wait for, its servers stopped as ever (those
            # its `down` has not removed yet).
            self.assertEqual(subprocess.run(["pgrep", "-g", str(attached.pid), "-x", "podman"]).returncode, 1)
            for name, closing in closings:
                if self.podman("container", "exists", name)[0] == 0:
                    self.assertEqual((self.state(name), self.log(name)[-1]), (("exited", "0"), closing))
            os.killpg(attached.pid, signal.SIGQUIT)  # Ctrl-\\
            attached.communicate(timeout=docker_tests.SLOW_STOP / 2)
            print("\n    podman-compose hung after Ctrl-C; Ctrl-\\ ended it", end=" ")
        else:
            for name, closing in closings:
                self.assertTrue(any(f"[{name}]" in line and line.endswith(f" {closing}")
                                    for line in shown.splitlines()), shown)
        for name in LAB_NAMES:  # removed by that `down`, or stopped as Docker stops it
            if self.podman("container", "exists", name)[0] == 0:
                self.assertEqual(self.state(name), ("exited", "0"))
        text = fold(PODMAN_SECTION)
        for promise in ("run `podman-compose down` after Ctrl-C",
                        "Another Ctrl-C does not help; Ctrl-\\ does"):
            self.assertIn(promise, text)
        self.check_down_leaves_nothing()

    def test_only_tcp_and_only_udp(self):
        for pair in (("tcp-server", "tcp-client"), ("udp-server", "udp-client")):
            with self.subTest(pair):
                self.up(*pair)
                self.check_clients_succeed(pair[1])
                self.assertEqual(sorted(self.containers().values()), sorted(pair))
                self.check_down_leaves_nothing()

    def test_capture_records_the_first_syn_and_is_drawn(self):
        folder, owner = self.lab_copy()
        options = {"files": ["wire/capture.yml"], "folder": folder}
        self.up(**options)
        self.check_clients_succeed("tcp-client", "udp-client")
        docker_tests.stop_captures(self, options)
        for name in ("tcp.pcap", "udp.pcap"):  # yours, not root's
            info = (folder / "wire" / "captures" / name).stat()
            self.assertEqual((info.st_uid, info.st_gid), (owner, owner))
        tcp = [packet(line) for line in self.read_capture(folder, "tcp.pcap")]
        self.check_a_whole_exchange(tcp)
        udp = [packet(line) for line in self.read_capture(folder, "udp.pcap")]
        self.assertEqual([(p.direction, p.length) for p in udp], [("to server", 48), ("to client", 48)])
        drawn = self.draw(folder, owner)
        for protocol in ("tcp", "udp"):
            shown, tally = drawn_in_readme("## Drawing the wire", protocol)
            if protocol == "tcp" and len(tcp) < 20:  # the echo coalesced: the start is the same
                self.assertEqual(arrows(drawn[protocol])[:5], arrows(shown)[:5])
                continue
            self.assertEqual(arrows(drawn[protocol]), arrows(shown))
            self.assertEqual(drawn[protocol].splitlines()[-1], tally)
        self.check_down_leaves_nothing(**options)

    def test_a_client_sends_nothing_before_its_capture_listens(self):
        """What podman-compose before Podman 4.6 cannot do, waiting for the capture to be
        healthy, the client does: started before its capture, it connects only once the
        capture's port 9000 answers, and the capture begins with its SYN."""
        folder, _ = self.lab_copy()
        options = {"files": ["wire/capture.yml"], "folder": folder}
        docker_tests.start_clients_before_their_capture(self, options)
        self.check_clients_succeed("tcp-client")
        wait_until(lambda: docker_tests.the_teardown_is_over(self.service_log("tcp-capture")), 20,
                   "the end of the teardown")
        self.compose("stop", "tcp-capture", **options)
        self.check_a_whole_exchange([packet(line) for line in self.read_capture(folder, "tcp.pcap")])

    def check_a_whole_exchange(self, tcp):
        """A captured TCP exchange from its SYN: the handshake, the 91 bytes in one segment,
        their echo, both FINs. 20 packets, as wire/README.md counts them, unless a busy
        computer's kernel sent some of the server's chunks together (Nagle's algorithm, as
        it explains): rootless Podman's slower network did, once."""
        self.assertEqual([(p.direction, p.flags) for p in tcp[:3]],
                         [("to server", "S"), ("to client", "S."), ("to server", ".")])
        self.assertEqual([p.length for p in tcp if p.direction == "to server" and p.length], [91])
        self.assertEqual(sum(p.length for p in tcp if p.direction == "to client"), 91)
        self.assertEqual([p.direction for p in tcp if "F" in p.flags], ["to server", "to client"])
        self.assertTrue(14 <= len(tcp) <= 20, tcp)

    def test_loss_alone_then_with_the_capture_as_the_readme_shows(self):
        folder, owner = self.lab_copy()
        settings = docker_tests.impaired(loss_every=4)
        runs = [["wire/impair.yml"], ["wire/impair.yml", "wire/capture.yml"]]
        if not self.ROOTLESS:
            # How the end can differ (wire/README.md): the client's network outlives the
            # client, here by 1 s on purpose, and its kernel answers. Rootful only, to
            # save time: this is the kernels' TCP, the same rootless.
            (folder / "linger.yml").write_text('services:\n  tcp-client:\n    command: '
                                               '["sh", "-c", "python tcp_client_docker.py; sleep 1"]\n')
            runs.append(runs[-1] + ["linger.yml"])
        for files in runs:
            with self.subTest(files=files):
                options = {"files": files, "folder": folder, "settings": settings}
                said = self.up(**options).stderr
                self.check_the_warnings_the_readme_quotes(said, "tcp-impair")
                self.check_clients_succeed("tcp-client", "udp-client")
                # impair.py names the packets the README's run lost: its rules were in
                # place before the first packet.
                for service in ("tcp-impair", "udp-impair"):
                    docker_tests.check_the_readme_drop_log(self, service)
                if "wire/capture.yml" in files:
                    docker_tests.stop_captures(self, options)
                    capture = [packet(line) for line in self.read_capture(folder, "tcp.pcap")]
                    shown = [packet(line) for line in README_RUN["tcp-capture"]]
                    self.assertEqual(capture[:12], shown[:12])
                    drawn = self.draw(folder, owner)
                    tcp, (readme, _) = arrows(drawn["tcp"]), drawn_in_readme("### One run, drawn", "tcp")
                    docker_tests.check_the_end_after_the_lost_fin(self, tcp, arrows(readme))
                    if "linger.yml" in files:
                        self.assertEqual(tcp[13], ("C", "FIN, sent again after", False))
                        self.assertIn(tcp[-1], [("C", "ACK 93", False), ("C", "duplicate ACK 93", False)])
                    udp, (readme, _) = arrows(drawn["udp"]), drawn_in_readme("### One run, drawn", "udp")
                    self.assertEqual(udp, arrows(readme))
                self.check_down_leaves_nothing(**options)

    def check_the_warnings_the_readme_quotes(self, said, service):
        """What podman-compose and Podman print about the healthchecks, where the README says."""
        text = fold(PODMAN_SECTION)
        ignored = (f"Ignored {service} condition check due to podman {VERSIONS['podman']} "
                   "doesn't support healthy!")
        major, minor = map(int, VERSIONS["podman"].split(".")[:2])
        self.assertEqual(ignored in said, (major, minor) < (4, 6), said)
        self.assertIn("`Ignored tcp-capture condition check due to podman ", text)
        no_systemd = "unable to get systemd connection to add healthchecks"
        if not os.path.isdir("/run/systemd/system") and not self.ROOTLESS:
            self.assertIn(no_systemd, said)
        self.assertIn(f"Without systemd, rootful Podman prints `{no_systemd}`", text)

    def draw(self, folder, owner):
        """wire/draw.yml's command: the diagrams it writes, owned by the clone's owner."""
        done = self.compose("run", "--rm", "draw", files=["wire/draw.yml"], folder=folder)
        drawn = {}
        for protocol in ("tcp", "udp"):
            path = folder / "wire" / "captures" / f"{protocol}.md"
            self.assertEqual((path.stat().st_uid, path.stat().st_gid), (owner, owner))
            drawn[protocol] = path.read_text()
            self.assertIn(drawn[protocol].splitlines()[-1], done.stdout.splitlines())
        checked = mermaid_check(*(folder / "wire" / "captures" / f"{p}.md" for p in drawn))
        if checked:  # valid Mermaid 11, when the tests are given a parser (CI: every drawing)
            self.assertEqual(checked[0], 0, checked[1])
        return drawn


class RootfulPodman(PodmanTests, unittest.TestCase):
    ROOTLESS = False

    def test_a_bad_loss_setting_ends_in_its_line_and_no_client_runs(self):
        line = "Error: LOSS_PERCENT must be a whole number from 0 to 100, not '150'"
        options = {"files": ["wire/impair.yml"], "settings": docker_tests.impaired(loss_percent=150)}
        self.addCleanup(self.compose, "down", "-t", "1", check=False, **options)
        done = self.compose("up", "--build", "-d", check=False, **options)
        self.assertNotEqual(done.returncode, 0)
        for service in ("impair-settings", "tcp-impair", "udp-impair"):
            name = next(iter(self.containers(service)))
            self.assertEqual(self.state(name)[1], "1")
            self.assertEqual(set(self.log(name, 2)), {line})
        # podman-compose checks no exit code: the servers start, but no client ever runs.
        self.assertEqual(self.containers(status="running"), {"tcp-server": "tcp-server",
                                                              "udp-server": "udp-server"})
        for client in self.containers("tcp-client", "udp-client"):
            self.assertEqual(self.state(client)[0], "created")
        command = "podman-compose -f docker-compose.yml -f wire/impair.yml logs impair-settings"
        self.assertIn(f"`{command}`", fold(PODMAN_SECTION))
        shown = self.compose(*command.split()[5:], **options)
        self.assertIn(line, shown.stdout + shown.stderr)  # podman-compose 1.4 prints it on stderr

    def test_a_lab_left_behind_is_removed_by_the_troubleshooting_commands(self):
        """Docker's own Compose, talking to Podman (as with Podman Desktop), refuses the
        network podman-compose left after stop; podman-compose down clears it."""
        if not docker_tests.compose_commands().get("Compose v2"):
            self.skipTest("the docker CLI with Compose v2 is not installed")
        self.up("tcp-server")
        self.compose("stop")  # what stop leaves: the containers and the network
        self.assertEqual(self.existing_lab(), ["tcp-server", f"network {NETWORK}"])
        folder = tempfile.mkdtemp(prefix="socketlab-podman-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        socket_path = os.path.join(folder, "podman.sock")
        service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{socket_path}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(service.wait, 10)
        self.addCleanup(service.terminate)
        wait_until(lambda: os.path.exists(socket_path), 20, "Podman's API socket")

        def docker_compose(*args):
            return subprocess.run(["docker", "compose", "-p", f"{self.project}docker", *args], cwd=ROOT,
                                  env={**os.environ, "DOCKER_HOST": f"unix://{socket_path}"},
                                  capture_output=True, encoding="utf-8", timeout=120)

        self.addCleanup(docker_compose, "down", "-t", "1")
        refused = docker_compose("up", "-d", "--no-build", "tcp-server")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn(f"network {NETWORK} was found but has incorrect label", refused.stderr)
        self.assertTrue(f"`network {NETWORK} was found but has incorrect label" in fold(README),
                        "README.md's troubleshooting does not quote this error")
        self.compose("down")  # the README's answer
        self.assertEqual(self.existing_lab(), [])
        started = docker_compose("up", "-d", "--no-build", "tcp-server")
        self.assertEqual(started.returncode, 0, started.stderr)
        self.assertEqual(self.state("tcp-server")[0], "running")
        # The other way round: a lab docker compose left stops podman-compose.
        self.assertEqual(docker_compose("stop", "-t", "1").returncode, 0)
        refused = self.compose("up", "-d", "tcp-server", check=False)
        said = 'the container name "tcp-server" is already in use'
        self.assertIn(said, refused.stdout + refused.stderr)
        self.assertIn(f"`{said}`", fold(README))
        self.assertEqual(docker_compose("down", "-t", "1").returncode, 0)  # the README's answer
        self.compose("down", "-t", "1")
        self.assertEqual(self.existing_lab(), [])
        self.up("tcp-server")
        self.assertEqual(self.state("tcp-server")[0], "running")
        self.check_down_leaves_nothing()


class RootlessPodman(PodmanTests, unittest.TestCase):
    ROOTLESS = True

    def test_only_ports_from_1024_up_can_be_published(self):
        self.assertIn("Only ports from 1024 up can be published", fold(PODMAN_SECTION))
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as setting:
            if setting.read().strip() != "1024":
                self.skipTest("this machine lets users publish other ports (ip_unprivileged_port_start)")
        code, _, err = self.podman("run", "--rm", "-p", "127.0.0.1:1023:10000", "socket-lab", "true")
        self.assertNotEqual(code, 0)
        self.assertIn("cannot expose privileged port 1023", err)


if __name__ == "__main__":
    unittest.main()
