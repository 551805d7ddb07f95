"""Podman's own: what podman-compose does otherwise than Docker's Compose, as README.md's
"Podman instead of Docker" and Troubleshooting say. (The lab and the wire on Podman, rootful
and rootless, are test_lab.py's and test_wire.py's classes RootfulPodman and RootlessPodman.)
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from handout import PODMAN, README, TROUBLESHOOTING, WIRE_PODMAN, drawn_in_wire
from lab import LAB_NAMES, NETWORK, PODMAN_COMPOSE_VERSION, WireLab, existing_lab, own_image
from support import ROOT, fold, wait_until
from wire_output import arrows, impaired

SLOW_STOP = 10  # seconds: Docker's kill timeout, what a server that ignores the stop signal costs


class PodmanCompose(WireLab):
    def test_the_readmes_podman_commands_run_as_written(self):
        shown = re.search(r"```bash\n(.*?)```", PODMAN, re.DOTALL).group(1).splitlines()
        self.assertEqual(shown, ["podman-compose up --build", "podman-compose logs tcp-client",
                                 "podman exec -it tcp-server bash", "podman-compose down"])
        self.up()
        self.clients_succeed("tcp-client", "udp-client")
        self.assertIn("closing socket", self.compose("logs", "tcp-client").stdout)
        self.assertEqual(self.checked("exec", "tcp-server", "bash", "-c", "id -u").strip(), "65534")
        self.down()
        self.assertEqual(existing_lab(self.engine), [])

    def test_up_build_keeps_the_old_container_unless_force_recreate(self):
        """Why README.md's Podman part says `--force-recreate`: a plain `up --build` after a
        change builds the new image, but keeps the running container and its old one
        (podman-compose 1.4 also exits with an error: the container's name is taken)."""
        self.clone()
        own_image(self, self.folder)
        self.up("tcp-server")
        wait_until(lambda: "Waiting for a connection..." in self.log("tcp-server"), 30, "tcp-server")
        server = self.folder / "tcp_server_docker.py"
        server.write_text(server.read_text().replace("Starting TCP server on port",
                                                     "Starting my server on port"))
        self.compose("up", "--build", "-d", "tcp-server", check=False)
        self.assertEqual(self.log("tcp-server")[0], "Starting TCP server on port 10000")
        self.compose("up", "--build", "--force-recreate", "-d", "tcp-server")
        wait_until(lambda: self.log("tcp-server")[:1] == ["Starting my server on port 10000"], 30,
                   "the changed tcp-server running")

    def test_ctrl_c_on_an_attached_up(self):
        """Ctrl-C in the terminal of `podman-compose up --build`: the terminal sends SIGINT to
        every process of the command. Both servers stop at once, cleanly; podman-compose then
        starts a `down` of its own, which may or may not finish before it exits. Or, now and
        then, podman-compose never exits (the README's asyncio bug): Ctrl-\\ ends it."""
        self.clone()
        self.down_at_the_end()
        attached = subprocess.Popen([*self.engine.compose, "-p", self.project, "up", "--build"],
                                    cwd=self.folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    encoding="utf-8", start_new_session=True)
        self.addCleanup(lambda: attached.poll() is not None or os.killpg(attached.pid, signal.SIGKILL))
        self.wait_for_clients("tcp-client", "udp-client")
        os.killpg(attached.pid, signal.SIGINT)
        closings = (("tcp-server", "Stopping TCP server"), ("udp-server", "Stopping UDP server"))
        try:
            shown, _ = attached.communicate(timeout=SLOW_STOP / 2)
        except subprocess.TimeoutExpired:
            # Hung with no podman command left to wait for, its servers stopped as ever (those
            # its `down` has not removed yet).
            self.assertEqual(subprocess.run(["pgrep", "-g", str(attached.pid), "-x", "podman"]).returncode, 1)
            for name, closing in closings:
                if self.cli("container", "exists", name)[0] == 0:
                    self.assertEqual((self.state(name), self.log(name)[-1]), (("exited", "0"), closing))
            os.killpg(attached.pid, signal.SIGQUIT)  # Ctrl-\\
            attached.communicate(timeout=SLOW_STOP / 2)
            print("\n    podman-compose hung after Ctrl-C; Ctrl-\\ ended it", end=" ")
        else:
            for name, closing in closings:
                self.assertTrue(any(f"[{name}]" in line and line.endswith(f" {closing}")
                                    for line in shown.splitlines()), shown)
        for name in LAB_NAMES:  # removed by that `down`, or stopped as Docker stops it
            if self.cli("container", "exists", name)[0] == 0:
                self.assertEqual(self.state(name), ("exited", "0"))
        for promise in ("run `podman-compose down` after Ctrl-C",
                        "Another Ctrl-C does not help; Ctrl-\\ does"):
            self.assertIn(promise, fold(TROUBLESHOOTING))

    def test_the_loss_alone_with_the_warnings_the_readme_quotes(self):
        """wire/impair.yml without the capture: impair.py's rules are in place before the
        first packet all the same (podman-compose cannot wait for healthy: the clients wait
        for port 9001), and podman-compose says what the README quotes."""
        options = {"files": ["wire/impair.yml"], "settings": impaired(loss_every=4)}
        said = self.up(**options).stderr
        self.clients_succeed("tcp-client", "udp-client")
        for service in ("tcp-impair", "udp-impair"):
            self.the_readme_drop_log(service)
        text = fold(WIRE_PODMAN)
        ignored = (f"Ignored tcp-impair condition check due to podman {PODMAN_COMPOSE_VERSION['podman']} "
                   "doesn't support healthy!")
        major, minor = map(int, PODMAN_COMPOSE_VERSION["podman"].split(".")[:2])
        self.assertEqual(ignored in said, (major, minor) < (4, 6), said)
        self.assertIn("`Ignored tcp-capture condition check due to podman ", text)
        no_systemd = "unable to get systemd connection to add healthchecks"
        if not os.path.isdir("/run/systemd/system") and not self.engine.rootless:
            self.assertIn(no_systemd, said)
        self.assertIn(f"Without systemd, rootful Podman prints `{no_systemd}`", text)


class RootfulPodmanOnly(WireLab):
    def test_the_end_of_a_loss_run_when_the_clients_network_outlives_it(self):
        """How the end can differ (wire/README.md): the client's network outlives the
        client, here by 1 s on purpose, and its kernel answers the server's FIN."""
        self.clone()
        (self.folder / "linger.yml").write_text('services:\n  tcp-client:\n    command: '
                                                '["sh", "-c", "python tcp_client_docker.py; sleep 1"]\n')
        options = {"files": ["wire/impair.yml", "wire/capture.yml", "linger.yml"],
                   "settings": impaired(loss_every=4)}
        self.up(**options)
        self.clients_succeed("tcp-client", "udp-client")
        self.stop_captures(**options)
        _, drawn = self.draw()
        tcp, (readme, _) = arrows(drawn["tcp"]), drawn_in_wire("### One run, drawn", "tcp")
        self.the_end_after_the_lost_fin(tcp, arrows(readme))
        self.assertEqual(tcp[13], ("C", "FIN, sent again after", False))
        self.assertIn(tcp[-1], [("C", "ACK 93", False), ("C", "duplicate ACK 93", False)])

    def test_a_bad_loss_setting_ends_in_its_line_and_no_client_runs(self):
        line = "Error: LOSS_PERCENT must be a whole number from 0 to 100, not '150'"
        options = {"files": ["wire/impair.yml"], "settings": impaired(loss_percent=150)}
        self.down_at_the_end(**options)
        self.assertNotEqual(self.compose("up", "--build", "-d", check=False, **options).returncode, 0)
        for service in ("impair-settings", "tcp-impair", "udp-impair"):
            self.assertEqual(self.state(service)[1], "1")
            self.assertEqual(set(self.log(service, 2)), {line})
        # podman-compose checks no exit code: the servers start, but no client ever runs.
        self.assertEqual(sorted(self.containers(status="running")), ["tcp-server", "udp-server"])
        for client in ("tcp-client", "udp-client"):
            self.assertEqual(self.state(client)[0], "created")
        command = "podman-compose -f docker-compose.yml -f wire/impair.yml logs impair-settings"
        self.assertIn(f"`{command}`", fold(WIRE_PODMAN))
        shown = self.compose(*command.split()[5:], **options)
        self.assertIn(line, shown.stdout + shown.stderr)  # podman-compose 1.4 prints it on stderr

    def test_a_lab_left_behind_is_removed_by_the_troubleshooting_commands(self):
        """Docker's own Compose, talking to Podman (as with Podman Desktop), refuses the
        network podman-compose left after stop; podman-compose down clears it."""
        if not shutil.which("docker"):
            self.skipTest("the docker CLI with Compose v2 is not installed")
        self.up("tcp-server")
        self.compose("stop")  # what stop leaves: the containers and the network
        self.assertEqual(existing_lab(self.engine), ["tcp-server", f"network {NETWORK}"])
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
        self.assertEqual(existing_lab(self.engine), [])
        started = docker_compose("up", "-d", "--no-build", "tcp-server")
        self.assertEqual(started.returncode, 0, started.stderr)
        self.assertEqual(self.checked("inspect", "-f", "{{.State.Status}}", "tcp-server").strip(), "running")
        # The other way round: a lab docker compose left stops podman-compose.
        self.assertEqual(docker_compose("stop", "-t", "1").returncode, 0)
        refused = self.compose("up", "-d", "tcp-server", check=False)
        said = 'the container name "tcp-server" is already in use'
        self.assertIn(said, refused.stdout + refused.stderr)
        self.assertIn(f"`{said}`", fold(README))
        self.assertEqual(docker_compose("down", "-t", "1").returncode, 0)  # the README's answer
        self.down()
        self.assertEqual(existing_lab(self.engine), [])


class RootfulPodman(PodmanCompose, RootfulPodmanOnly, unittest.TestCase):
    ENGINE = "Podman"


class RootlessPodman(PodmanCompose, unittest.TestCase):
    ENGINE = "rootless Podman"

    def test_only_ports_from_1024_up_can_be_published(self):
        self.assertIn("Only ports from 1024 up can be published", fold(PODMAN))
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as setting:
            if setting.read().strip() != "1024":
                self.skipTest("this machine lets users publish other ports (ip_unprivileged_port_start)")
        code, _, err = self.cli("run", "--rm", "-p", "127.0.0.1:1023:10000", "socket-lab", "true")
        self.assertNotEqual(code, 0)
        self.assertIn("cannot expose privileged port 1023", err)


if __name__ == "__main__":
    unittest.main()
