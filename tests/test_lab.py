"""The lab as the lecturer runs it: the image built and the four containers run by a real
engine, each one of lab.py's (Compose v2, legacy docker-compose, podman-compose rootful and
rootless): the handout's lines, its commands, stop, rebuild and down, one protocol alone,
a lab that is not taken over; then, once on Docker, exercises 1 and 8 and the images.

Without an engine its classes are skipped (lab.py says how to choose one, and how to
make a missing one fail instead).
"""
import json
import re
import signal
import subprocess
import time
import unittest

from handout import PODMAN, README
from lab import LAB_NAMES, NETWORK, Lab, base_image, existing_lab, logged_at, own_image
from support import (CONTAINER_ADDRESS, ROOT, SHORT, Script, exercise, fold, run, tcp_client_lines,
                     tcp_server_lines, udp_client_lines, udp_server_lines, wait_until)

SLOW_STOP = 10  # seconds: Docker's kill timeout, what a server that ignores the stop signal costs


class TheLabRunning(Lab):
    """`up --build` of the whole lab, once for the class: what the handout shows of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        starter = cls.up_for_the_class()
        cls.codes = starter.wait_for_clients("tcp-client", "udp-client")
        # What the servers printed for them, once each waits again (a later test is a
        # client too).
        waiting = {"tcp-server": "Waiting for a connection...", "udp-server": "Waiting to receive message..."}

        def served(name):
            log = starter.log(name)
            return log.count(waiting[name]) == 2 and log

        cls.servers = {name: wait_until(lambda name=name: served(name), SHORT, f"{name} waiting again")
                       for name in LAB_NAMES}

    def server_address(self, service):
        """The client's (host, port) as its server printed it: a container's address."""
        return re.fullmatch(rf"(?:Connection from|Received 48 bytes from) ({CONTAINER_ADDRESS})",
                            self.servers[service][2]).group(1)

    def test_the_clients_print_the_handouts_lines_and_exit_0(self):
        self.assertEqual(self.codes, [0, 0])
        self.assertEqual(self.log("tcp-client"), tcp_client_lines("tcp-server", 10000))
        udp = self.log("udp-client")
        server = re.fullmatch(rf"Received 48 bytes from ({CONTAINER_ADDRESS})", udp[2]).group(1)
        self.assertEqual(udp, udp_client_lines("udp-server", 10001, server))

    def test_the_servers_keep_running_having_served_one_client_each(self):
        for name in LAB_NAMES:
            self.assertEqual(self.state(name), ("running", "0"))
        self.assertEqual(self.servers["tcp-server"],
                         tcp_server_lines(10000, self.server_address("tcp-server")))
        self.assertEqual(self.servers["udp-server"],
                         udp_server_lines(10001, self.server_address("udp-server")))

    def test_the_logs_commands_show_every_line(self):
        shown = self.compose("logs", "tcp-client").stdout
        self.assertIn("closing socket", shown)
        if self.engine.podman:  # podman-compose has no --timestamps
            return
        follow = Script(None, command=[*self.engine.compose, "-p", self.project, "logs", "-f", "tcp-server"],
                        cwd=self.folder)
        self.addCleanup(follow.stop)
        follow.wait_for(r".*tcp-server.*\|.*Starting TCP server on port 10000", timeout=30)
        stamped = [line for line in self.compose("logs", "--no-color", "--timestamps").stdout.splitlines()
                   if "|" in line]  # legacy Compose begins with "Attaching to ..."
        self.assertEqual(len(stamped), sum(len(self.container_log(c)) for c in self.containers()))
        self.assertGreater(len(stamped), 30)
        for line in stamped:
            self.assertRegex(line, r"\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")

    def test_exec_opens_a_shell_in_the_server_as_nobody(self):
        self.assertEqual(self.checked("exec", "tcp-server", "bash", "-c", "id -u && ls /lab").split(),
                         ["65534", "tcp_client_docker.py", "tcp_server_docker.py", "udp_client_docker.py",
                          "udp_server_docker.py"])

    def test_the_image_runs_the_python_its_from_line_names(self):
        version = self.checked("exec", "tcp-server", "python", "--version")
        self.assertEqual(re.match(r"Python (\d+\.\d+)\.", version).group(1),
                         re.fullmatch(r"python:(\d+\.\d+)-slim", base_image()).group(1))

    def test_the_image_holds_what_only_a_container_needs(self):
        """Unbuffered output (what `logs -f` shows as it comes) and the signal that stops a
        server, in the image, not in the scripts."""
        config = json.loads(self.checked("image", "inspect", "-f", "{{json .Config}}", "socket-lab"))
        self.assertIn("PYTHONUNBUFFERED=1", config["Env"])
        self.assertEqual(config["StopSignal"], "SIGINT")

    def test_the_servers_are_on_one_bridge_network_of_that_name(self):
        network = json.loads(self.checked("network", "inspect", NETWORK))[0]
        self.assertEqual(network.get("Driver", network.get("driver")), "bridge")
        if not self.engine.podman:  # Podman's network knows no containers
            self.assertLessEqual(set(LAB_NAMES), {c["Name"] for c in network["Containers"].values()})

    def test_the_ports_are_published_on_this_computers_loopback_only(self):
        for name, port in (("tcp-server", "10000/tcp"), ("udp-server", "10001/udp")):
            self.assertEqual(self.checked("port", name).splitlines(),
                             [f"{port} -> 127.0.0.1:{port.split('/')[0]}"])
        # A client on this computer reaches the servers through them (rootless Podman:
        # through its port forwarder).
        self.assertEqual(run("tcp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)
        self.assertEqual(run("udp_client_docker.py", SERVER_HOST="127.0.0.1")[0], 0)

    def test_the_compose_program_is_as_new_as_the_handout_says(self):
        version = self.compose("version", *([] if self.engine.podman else ["--short"])).stdout
        if self.engine.name == "legacy":
            stated = re.search(r"`docker-compose` program \(version (\d+\.\d+) or newer\)", README).group(1)
            self.assertEqual(version.strip().rsplit(".", 1)[0], stated)
        elif self.engine.podman:  # lab.py skips one older than the README's minimum
            self.assertRegex(version, r"podman-compose version \d+\.\d+")
        else:
            self.assertRegex(version, r"^v?2\.")


class LabCommands(Lab):
    """The handout's other commands, each on a lab of its own."""

    def test_stop_rebuild_and_down_are_quick_and_clean(self):
        self.clone()
        own_image(self, self.folder)  # the script changes below
        self.up()
        self.clients_succeed("tcp-client", "udp-client")
        started = time.monotonic()
        self.compose("stop", "tcp-server")
        self.assertLess(time.monotonic() - started, SLOW_STOP / 2)
        self.assertEqual(self.state("tcp-server"), ("exited", "0"))
        self.assertEqual(self.log("tcp-server")[-1], "Stopping TCP server")

        # A changed script, and the handout's rebuild: the new script runs. (podman-compose
        # keeps a container it made unless told to recreate it, README.md says; 1.4 can
        # recreate one service only without the services that depend on it.)
        server = self.folder / "tcp_server_docker.py"
        server.write_text(server.read_text().replace("Starting TCP server on port",
                                                     "Starting my server on port"))
        if self.engine.podman:
            self.assertIn("`podman-compose up --build --force-recreate`", fold(PODMAN))
            self.compose("up", "--build", "--force-recreate", "-d")
        else:
            self.compose("up", "--build", "-d", "tcp-server")  # README.md's Stopping and rebuilding
        wait_until(lambda: "Starting my server on port 10000" in self.log("tcp-server"), 30,
                   "the changed tcp-server running")

        started = time.monotonic()
        self.down()
        self.assertLess(time.monotonic() - started, SLOW_STOP / 2)
        self.assertEqual(existing_lab(self.engine), [])

    def test_only_tcp_and_only_udp(self):
        for pair in (("tcp-server", "tcp-client"), ("udp-server", "udp-client")):
            with self.subTest(pair):
                self.up(*pair)
                self.clients_succeed(pair[1])
                self.assertEqual(sorted(self.containers(*pair)), sorted(self.containers()))
                self.assertEqual(len(self.containers()), 2)
                self.down()

    def test_an_existing_tcp_server_container_is_not_taken_over(self):
        foreign = self.checked("create", "--name", "tcp-server", base_image(), "true").strip()
        self.addCleanup(self.cli, "rm", "-f", foreign)
        self.down_at_the_end()
        self.assertIn("tcp-server", existing_lab(self.engine))  # what lab.py checks before any test
        refused = self.compose("up", "-d", "tcp-server", check=False)
        if not self.engine.podman:  # podman-compose reports the error, and exits with 0
            self.assertNotEqual(refused.returncode, 0)
        self.assertIn("tcp-server", refused.stdout + refused.stderr)
        self.assertEqual(self.checked("inspect", "-f", "{{.Id}}", "tcp-server").strip(), foreign)


class DockerCtrlC(Lab):
    def test_ctrl_c_on_an_attached_up(self):
        """Ctrl-C in the terminal of `docker compose up --build`: both servers stop at once,
        cleanly. (podman-compose's Ctrl-C is test_podman.py's.)"""
        self.clone()
        self.down_at_the_end()
        attached = subprocess.Popen([*self.engine.compose, "-p", self.project, "up", "--build"],
                                    cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(attached.kill)
        self.wait_for_clients("tcp-client", "udp-client")
        started = time.monotonic()
        attached.send_signal(signal.SIGINT)
        attached.wait(timeout=SLOW_STOP * 2)
        self.assertLess(time.monotonic() - started, SLOW_STOP / 2)
        for name, closing in (("tcp-server", "Stopping TCP server"), ("udp-server", "Stopping UDP server")):
            self.assertEqual(self.state(name), ("exited", "0"))
            self.assertEqual(self.log(name)[-1], closing)


class ComposeV2(TheLabRunning, unittest.TestCase):
    ENGINE = "Compose v2"


class ComposeV2Commands(LabCommands, DockerCtrlC, unittest.TestCase):
    ENGINE = "Compose v2"


class LegacyCompose(TheLabRunning, unittest.TestCase):
    ENGINE = "legacy"


class LegacyComposeCommands(LabCommands, DockerCtrlC, unittest.TestCase):
    ENGINE = "legacy"


class RootfulPodman(TheLabRunning, unittest.TestCase):
    ENGINE = "Podman"


class RootfulPodmanCommands(LabCommands, unittest.TestCase):
    ENGINE = "Podman"


class RootlessPodman(TheLabRunning, unittest.TestCase):
    ENGINE = "rootless Podman"


class RootlessPodmanCommands(LabCommands, unittest.TestCase):
    ENGINE = "rootless Podman"


class ExercisesInDocker(Lab, unittest.TestCase):
    """The README's exercises that run the lab in containers, once, on Docker."""

    ENGINE = "Docker"

    @exercise(1)
    def test_exercise_1_clients_queue_behind_a_silent_client(self):
        # The exercise needs a window to start the clients in, not 10 s exactly (those are
        # checked in test_lessons.py): the copy's server waits 5 s for a silent client.
        self.queue_behind_a_silent_client(idle_timeout=5)
        server = self.timed_log("tcp-server")
        texts = [text for _, text in server]
        dropped = texts.index("Dropped the client: timed out")
        self.assertEqual(sum(text.startswith("Connection from") for text in texts[:dropped]), 1)
        self.assertEqual(sum(text.startswith("Connection from") for text in texts[dropped:]), 3)
        # The three had connected and sent before the server dropped the silent one.
        for container in self.containers("tcp-client"):
            client = self.checked("logs", "--timestamps", container).splitlines()
            sent = next(logged_at(line) for line in client if " sending " in line)
            self.assertLess(sent, server[dropped][0])
        # The silent client's address is the network's gateway: Docker relays the published port.
        gateway = json.loads(self.checked("network", "inspect", NETWORK))[0]["IPAM"]["Config"][0]["Gateway"]
        self.assertRegex(texts[2], rf"^Connection from \('{re.escape(gateway)}', \d+\)$")

    @exercise(8)
    def test_exercise_8_a_message_set_in_the_compose_file(self):
        setting = re.search(r"`(MESSAGE: \"[^\"]+\")`", README).group(1)
        compose_file = self.clone() / "docker-compose.yml"
        text = compose_file.read_text()
        anchor = text.index("      SERVER_PORT: \"10000\"\n", text.index("  tcp-client:"))
        compose_file.write_text(text[:anchor] + f"      {setting}\n" + text[anchor:])
        self.up("tcp-server", "tcp-client")
        self.assertEqual(self.wait_for_clients("tcp-client"), [0])
        message = b"Hola desde Oviedo"  # 17 bytes: chunks of 16 and 1
        self.assertEqual(self.log("tcp-client"), tcp_client_lines("tcp-server", 10000, message))
        self.assertEqual([line for line in self.log("tcp-server") if line.startswith("Received")],
                         ["Received: b'Hola desde Ovied'", "Received: b'o'"])


class Images(Lab, unittest.TestCase):
    """What a student downloads and builds carries one Python, the base image's own: the
    official python:3.13-slim is CPython under /usr/local on Debian, with no Debian
    python3, and CI's stand-in for it, built where no registry answers, must be too."""

    ENGINE = "Docker"

    def run_in(self, image, script):
        return self.checked("run", "--rm", "--user", "0", "--entrypoint", "sh", image, "-ec", script,
                            timeout=180).splitlines()

    def assert_one_python(self, image):
        self.assertEqual(self.run_in(image, "command -v python3; python3 -c 'import ctypes, sqlite3, ssl'\n"
                                     "ls /usr/bin/python3 2>&1 || true\n"
                                     "dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' 'python3*' "
                                     "'libpython3*' 2>/dev/null | grep '^ii' || true"),
                         ["/usr/local/bin/python3",
                          "ls: cannot access '/usr/bin/python3': No such file or directory"])

    def test_the_base_image_is_python_under_usr_local_without_debian_python(self):
        self.assert_one_python(base_image())  # why it matters: test_wire.py, OnceOnDocker

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
        code, _, err = self.cli("run", "--rm", "--network", "none", "-v", f"{ROOT / 'tests'}:/lab/tests:ro",
                                "-v", f"{ROOT / 'wire'}:/lab/wire:ro", "socket-lab-wire", "python3", "-m",
                                "unittest", "discover", "-s", "/lab/tests", "-p", "test_draw.py")
        self.assertEqual(code, 0, err)
        self.assertRegex(err, r"\nRan [1-9]\d* tests in .*\n\nOK\n$")
        code, out, err = self.cli("run", "--rm", "--network", "none", "--user", "65534",
                                  "socket-lab-wire", "draw.py", "/tmp")
        self.assertEqual((code, out, err.splitlines()), (1, "", [
            "Error: no capture in wire/captures: run the lab with it first: "
            "docker compose -f docker-compose.yml -f wire/capture.yml up --build"]))


if __name__ == "__main__":
    unittest.main()
