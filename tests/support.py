"""Test helpers: run the lab's scripts as real processes and read what they print.

Every wait here polls with a deadline; nothing sleeps for a fixed time.
"""
import contextlib
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The interpreter that runs the scripts: CI sets LAB_PYTHON to check an older Python too.
PYTHON = os.environ.get("LAB_PYTHON", sys.executable)
LAB_VARIABLES = ("LISTEN_HOST", "LISTEN_PORT", "SERVER_HOST", "SERVER_PORT", "MESSAGE")

TCP_MESSAGE = b"This is our message. It is very long but will only be transmitted in chunks of 16 at a time"
UDP_MESSAGE = b"This is our message. It will be sent all at once"
ADDRESS = r"\('127\.0\.0\.1', \d+\)"  # how a loopback peer's (host, port) prints
CONTAINER_ADDRESS = r"\('\d+\.\d+\.\d+\.\d+', \d+\)"  # and a container's

# Timeouts, named as CPython's test.support names its own: every wait says which it is.
SHORT = 5            # seconds: a running process prints its next line, a port answers
CLIENTS_DONE = 90    # the lab's clients have exited, from `up` (rootless Podman is slowest)
ENGINE_COMMAND = 60  # one docker or podman command (ps, inspect, logs, run of a tool)
COMPOSE_COMMAND = 300  # one Compose command, `up --build` of both images included

# A shell script starts its background jobs (`cmd &`) with SIGINT ignored, every child
# inherits that, and Python then leaves Ctrl-C ignored. Run that way, the tests give
# the scripts back the default, which is what a terminal's Ctrl-C finds.
if os.name == "posix" and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def chunks(message, size=16):
    """The pieces the TCP server reads and echoes: 16 bytes each, the last one shorter."""
    return [message[i:i + size] for i in range(0, len(message), size)]


# The lines the four scripts print in one exchange, as the README shows them: every test
# that compares a run with the handout compares it with these.
def tcp_client_lines(host, port, message=TCP_MESSAGE):
    return ([f"Connecting to {host} port {port}", f"sending {message!r}"]
            + [f"received {chunk!r}" for chunk in chunks(message)] + ["closing socket"])


def udp_client_lines(host, port, server, message=UDP_MESSAGE):
    return [f"Sending {message!r} to {host}:{port}", "Waiting to receive...",
            f"Received {len(message)} bytes from {server}", f"Data: {message!r}", "Closing socket"]


def tcp_server_lines(port, client, message=TCP_MESSAGE):
    lines = [f"Starting TCP server on port {port}", "Waiting for a connection...",
             f"Connection from {client}"]
    for chunk in chunks(message):
        lines += [f"Received: {chunk!r}", "Sending data back to client"]
    return [*lines, f"No more data from {client}, closing the connection", "Waiting for a connection..."]


def udp_server_lines(port, client, message=UDP_MESSAGE):
    return [f"Starting UDP server on port {port}", "Waiting to receive message...",
            f"Received {len(message)} bytes from {client}", f"Data: {message!r}",
            f"Sending acknowledgement back to {client}", "Waiting to receive message..."]


# The exercises whose test ran to its end in this run (not skipped, not failed).
CHECKED_EXERCISES = set()


def exercise(*numbers):
    """Mark a test as the check of the READMEs' exercises with these numbers. test_readme.py
    reads the mark, so every exercise has a test; test_zz_exercises_checked.py, which runs
    last, reads what ran, so an exercise whose tests all skipped shows as a skip."""
    def mark(test):
        @functools.wraps(test)
        def checked(*args, **kwargs):
            test(*args, **kwargs)
            CHECKED_EXERCISES.update(numbers)
        checked.exercises = numbers
        return checked
    return mark


def free_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 that nothing uses right now (never the lab's 10000/10001)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lab_environment(**settings):
    """This process's environment without the lab's variables, plus settings. Output is
    unbuffered, as the Dockerfile sets it (ENV PYTHONUNBUFFERED=1): the tests read it
    through pipes while the scripts run."""
    env = {k: v for k, v in os.environ.items() if k not in LAB_VARIABLES}
    env.update({k: str(v) for k, v in settings.items()}, PYTHONUNBUFFERED="1")
    return env


def run(script, timeout=20, **settings):
    """Run a script to the end; return (exit code, stdout lines, stderr lines)."""
    done = subprocess.run([PYTHON, str(ROOT / script)], env=lab_environment(**settings),
                          capture_output=True, timeout=timeout, encoding="utf-8")
    return done.returncode, done.stdout.splitlines(), done.stderr.splitlines()


class Script:
    """A script running in the background; its output is collected line by line as it comes."""

    def __init__(self, script, command=None, cwd=ROOT, **settings):
        command = command or [PYTHON, str(ROOT / script)]
        self.process = subprocess.Popen(command, env=lab_environment(**settings), encoding="utf-8",
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                        start_new_session=os.name == "posix")
        self.lines, self.errors = [], []
        self.readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                        for stream, into in ((self.process.stdout, self.lines),
                                             (self.process.stderr, self.errors))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, into):
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=5, count=1):
        """Wait until `count` stdout lines match the regular expression; return the last one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matches = [line for line in list(self.lines) if re.fullmatch(pattern, line)]
            if len(matches) >= count:
                return matches[count - 1]
            if self.process.poll() is not None and all(not r.is_alive() for r in self.readers):
                break
            time.sleep(0.01)
        raise AssertionError(f"no line {pattern!r} (x{count}) within {timeout} s; "
                             f"stdout={self.lines} stderr={self.errors}")

    def signal(self, signum):
        self.process.send_signal(signum)

    def wait(self, timeout=5):
        """Wait for the process to end; return its exit code with all its output read."""
        code = self.process.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout)
        return code

    def stop(self):
        """Kill the process and anything it started (its process group), then collect it."""
        if self.process.poll() is None:
            if os.name == "posix":
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
        self.wait()
        for reader, stream in zip(self.readers, (self.process.stdout, self.process.stderr)):
            if not reader.is_alive():  # closing a pipe that a thread still reads would block
                stream.close()


def start_server(test, script, **settings):
    """Start a server, stopped again when the test ends; return once it waits for clients."""
    server = Script(script, **settings)
    test.addCleanup(server.stop)
    server.wait_for(r"Waiting for a connection\.\.\.|Waiting to receive message\.\.\.")
    return server


def private_network_available():
    """Can this machine run a command in its own network and mount namespaces (Linux)?"""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    return subprocess.run(["unshare", "--map-root-user", "--net", "--mount", "true"],
                          capture_output=True).returncode == 0


def in_private_network(shell_script, timeout=60, cwd=ROOT, **settings):
    """Run a shell script in a new network namespace: only its own loopback, nothing can leave."""
    return subprocess.run(
        ["unshare", "--map-root-user", "--net", "--mount", "sh", "-ec",
         "ip link set lo up\n" + shell_script],
        env=lab_environment(PYTHON=PYTHON, **settings), cwd=cwd,
        capture_output=True, timeout=timeout, encoding="utf-8")


def mermaid_check(*paths):
    """Parse the Mermaid diagrams in these Markdown files with Mermaid 11 (what GitHub
    renders), when MERMAID_CHECK names a command that does (CI sets it to
    `node .ci/mermaid/check.mjs`); return (exit code, output), or None when it is unset."""
    command = os.environ.get("MERMAID_CHECK")
    if not command:
        return None
    done = subprocess.run([*command.split(), *map(str, paths)], capture_output=True,
                          encoding="utf-8", timeout=120, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


def start_in_private_network(shell_script, cwd=ROOT, **settings):
    """in_private_network, started in the background, in a process group of its own (what
    it starts too: servers, the second machine's `sleep`): return the process. End it,
    and all of them, with end_group."""
    return subprocess.Popen(
        ["unshare", "--map-root-user", "--net", "--mount", "sh", "-ec", "ip link set lo up\n" + shell_script],
        env=lab_environment(PYTHON=PYTHON, **settings), cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, encoding="utf-8", start_new_session=True)


def end_group(process, timeout=10):
    """End a process started in a group of its own, and every process of that group, even
    after the first has exited; read what is left of its output."""
    with contextlib.suppress(ProcessLookupError):  # the whole group had ended
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=timeout)


def fold(text):
    """Text with its line breaks and runs of spaces as single spaces: prose as a reader
    sees it, however the Markdown source wraps it."""
    return " ".join(text.split())


def wait_until(condition, timeout, what):
    """Poll condition() until it returns something true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")

