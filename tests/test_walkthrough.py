"""The handout followed literally: each chapter's commands, read from the READMEs, run in
the order the text gives them, in one fresh clone, as a student types them; what the text
says appears is what must appear. State carries from one step to the next: an edit stays
until the text says how to undo it, a lab stays until the text removes it, and a second
terminal is a process of its own that Ctrl-C (SIGINT to its process group) ends.

The text's real waits are in them (10 seconds, many times), so they take minutes: the
README's command skips them, saying so, and LAB_WALKTHROUGH=1 runs them (CI does, in a step
of its own). They need a Docker engine with Compose v2, the `docker compose` the text
types, and the lab's ports, 10000 and 10001, free on this computer.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

from handout import README, WIRE, exercise_text, section
from lab import compose_commands, docker, docker_engine_answers, existing_lab
from support import ROOT, Script, exercise, fold, lab_environment, mermaid_check, wait_until
# A program a student types, after any settings (X=1, or X=$(a command)) in front of it.
COMMAND = re.compile(r"(?:[A-Z_]+=(?:\$\((?:[^()]|\([^()]*\))*\)|\S+) )*(?:docker|python3|git|nc)(?= |$)")
STEP = 120  # seconds: the longest any one command of the handout may take here


FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```$", re.MULTILINE | re.DOTALL)


def pieces(text):
    """The text's `code` spans and the lines of its bash blocks, in their order; the
    other blocks (output, code) left out."""
    found, prose = [], 0
    for block in FENCE.finditer(text + "\n"):
        found += [fold(span) for span in re.findall(r"`([^`]+)`", text[prose:block.start()])]
        if block.group(1) == "bash":
            found += [line.split(" #")[0].strip() for line in block.group(2).splitlines()]
        prose = block.end()
    return found + [fold(span) for span in re.findall(r"`([^`]+)`", text[prose:])]


def commands(text):
    """The commands a text gives, in its order: the pieces that start with a program a
    student types (settings such as X=1 before it)."""
    return [piece for piece in pieces(text) if COMMAND.match(piece)]


def quoted(text):
    """What a text quotes in `code` outside its blocks: among it, what a student will see."""
    return [fold(span) for span in re.findall(r"`([^`]+)`", FENCE.sub("", text + "\n"))]


class Student:
    """A student at a computer: a fresh clone, and terminals that run what they type."""

    def __init__(self, test):
        self.test = test
        self.folder = Path(tempfile.mkdtemp(prefix="socketlab-student-")) / "walkthrough"
        test.addCleanup(shutil.rmtree, self.folder.parent, ignore_errors=True)
        shutil.copytree(ROOT, self.folder, ignore=shutil.ignore_patterns(
            ".git", ".ci", "__pycache__", ".ruff_cache", "*.pcap", "tcp.md", "udp.md"))
        # A clone: `git checkout -- FILE` undoes an edit, as the text says.
        for words in (["init", "-q"], ["add", "-A"],
                      ["-c", "user.name=student", "-c", "user.email=student@example.org",
                       "commit", "-q", "-m", "as cloned"]):
            subprocess.run(["git", *words], cwd=self.folder, check=True, capture_output=True)
        test.addCleanup(self.remove_every_lab)

    def remove_every_lab(self):
        """However the test ended: down with every file the lab has, reported if it fails."""
        done = self.type("docker compose -f docker-compose.yml -f wire/capture.yml "
                         "-f wire/impair.yml down --timeout 1")
        self.test.assertEqual(done.returncode, 0, done.stderr)

    def type(self, line, timeout=STEP):
        """Type a command and wait for it to end: (exit code, stdout, stderr), as text."""
        return subprocess.run(["bash", "-c", line], cwd=self.folder, env=lab_environment(),
                              capture_output=True, encoding="utf-8", timeout=timeout)

    def terminal(self, line):
        """Type a command into a terminal of its own, and leave it running there."""
        terminal = Script(None, command=["bash", "-c", line], cwd=self.folder)
        self.test.addCleanup(terminal.stop)
        return terminal

    @staticmethod
    def ctrl_c(terminal, timeout=STEP):
        """Ctrl-C in that terminal: SIGINT to everything it runs. Returns the exit code."""
        os.killpg(terminal.process.pid, signal.SIGINT)
        return terminal.wait(timeout)

    def edit(self, name, old, new):
        path = self.folder / name
        text = path.read_text(encoding="utf-8")
        self.test.assertEqual(text.count(old), 1, f"{old!r} in {name}")
        path.write_text(text.replace(old, new), encoding="utf-8")

    def exited(self, *services):
        """Wait until every container of these services has exited; return their exit codes."""
        def codes():
            found = []
            for service in services:
                out = docker("ps", "-a", "--filter", "label=com.docker.compose.project=walkthrough",
                             "--filter", f"label=com.docker.compose.service={service}",
                             "--format", "{{.Status}}")[1].splitlines()
                if not out or not all(status.startswith("Exited (") for status in out):
                    return None
                found += [int(status.split("(")[1].split(")")[0]) for status in out]
            return found
        return wait_until(codes, 60, f"{services} exiting")

    def log(self, container):
        code, out, err = docker("logs", container)
        self.test.assertEqual(code, 0, err)
        return out.splitlines()


def setUpModule():
    if os.environ.get("LAB_WALKTHROUGH") != "1":
        raise unittest.SkipTest("the handout followed literally takes minutes: LAB_WALKTHROUGH=1 "
                                "runs it (CI does)")
    if not docker_engine_answers() or compose_commands().get("Compose v2") != ["docker", "compose"]:
        raise AssertionError("LAB_WALKTHROUGH=1, but no Docker engine with `docker compose` answers")
    found = existing_lab()
    if found:
        raise AssertionError(f"a lab is already running here ({', '.join(found)}): stop it first")


class TheLesson(unittest.TestCase):
    """README.md's Quick start and Stopping, and the held ports of Troubleshooting."""

    def test_the_lab_is_run_and_stopped_as_the_text_says(self):
        student = Student(self)
        run = commands(section(README, "## Quick start"))[0]
        terminal = student.terminal(run)
        self.assertEqual(student.exited("tcp-client", "udp-client"), [0, 0])
        student.ctrl_c(terminal)  # Compose ends at once (exit code 130: interrupted)
        # Compose stops showing the containers' output before the servers' last lines...
        stopping = section(README, "## Stopping and rebuilding")
        self.assertIn("Container tcp-server Stopped", quoted(stopping))
        shown = [fold(line) for line in terminal.lines + terminal.errors if line.strip()]
        self.assertRegex(shown[-1], r"^Container \S+ Stopped$")
        closing = ("Stopping TCP server", "Stopping UDP server")
        self.assertFalse([line for line in shown if line.endswith(closing)])
        # ... which the logs have.
        logs = next(c for c in commands(stopping) if c.startswith("docker compose logs"))
        done = student.type(logs)
        self.assertRegex(done.stdout, r"(?m)^tcp-server +\| Stopping TCP server$")
        self.assertRegex(done.stdout, r"(?m)^udp-server +\| Stopping UDP server$")
        self.assertEqual(student.type("docker compose down").returncode, 0)

    def test_a_held_port_in_the_words_docker_uses(self):
        student = Student(self)
        words = section(README, "## Troubleshooting")
        said = re.findall(r"```console\n(.*?)\n```", words)
        self.assertEqual(len(said), 2)
        server = student.terminal("python3 tcp_server_docker.py")  # a program of yours
        server.wait_for(r"Waiting for a connection\.\.\.")
        done = student.type("docker compose up --build -d")
        self.assertNotEqual(done.returncode, 0)
        self.assertTrue(done.stderr.rstrip().endswith(said[0]), done.stderr)
        student.ctrl_c(server)
        self.assertEqual(student.type("docker compose down").returncode, 0)
        holder = "socketlab-walkthrough-holder"  # another container
        self.addCleanup(docker, "rm", "-f", holder)
        code, _, err = docker("run", "-d", "--name", holder, "-p", "127.0.0.1:10000:10000", "socket-lab")
        self.assertEqual(code, 0, err)
        done = student.type("docker compose up --build -d")
        self.assertNotEqual(done.returncode, 0)
        self.assertTrue(done.stderr.rstrip().endswith(said[1]), done.stderr)
        self.assertEqual(student.type("docker compose down").returncode, 0)


class TheLessonsExercises(unittest.TestCase):
    """README.md's exercises 1 to 8, one after another in one clone, as the text gives them."""

    @exercise(1, 2, 3, 4, 5, 6, 7, 8)
    def test_exercises_1_to_8_in_order(self):
        self.student = Student(self)
        self.intro = section(README, "## Exercises").split("\n1. **", 1)[0]
        for number in range(1, 9):
            text = exercise_text(README, number)
            getattr(self, f"exercise_{number}")(text, commands(text))

    def undo(self, name):
        """What the text says undoes an edit: `git checkout -- FILE`, for the file changed."""
        undo = next(c for c in commands(self.intro) if c.startswith("git checkout -- "))
        self.assertEqual(undo, "git checkout -- tcp_server_docker.py")
        self.assertEqual(self.student.type(undo.replace("tcp_server_docker.py", name)).returncode, 0)

    def remove_the_lab(self):
        """What the text says removes a lab that is still there."""
        self.assertIn("docker compose down", commands(self.intro))
        done = self.student.type("docker compose down")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("orphan", done.stderr)

    def exercise_1(self, text, typed):
        start, silent, three = typed
        self.assertEqual(self.student.type(start).returncode, 0)
        wait_until(lambda: "Waiting for a connection..." in self.student.log("tcp-server"), 30, "tcp-server")
        silent = self.student.terminal(silent)  # "in a second terminal"
        wait_until(lambda: any(line.startswith("Connection from") for line in self.student.log("tcp-server")),
                   10, "the silent client connected")
        clients = self.student.type(three, timeout=60)  # "within 10 seconds": at once
        self.assertEqual(clients.returncode, 0, clients.stderr)
        log = self.student.log("tcp-server")
        dropped = log.index("Dropped the client: timed out")
        self.assertEqual([line.split(" (")[0] for line in log if line.startswith("Connection from")],
                         ["Connection from"] * 4)
        self.assertEqual(sum(line.startswith("Connection from") for line in log[dropped:]), 3)
        self.assertIn("the network's gateway", fold(text))
        self.student.ctrl_c(silent)
        self.remove_the_lab()

    def exercise_2(self, text, typed):
        server_command, client_command = typed
        blocks = re.findall(r"^ *```python\n(.*?)^ *```$", text, re.MULTILINE | re.DOTALL)
        serve, loop = [re.sub(r"^ {3}", "", block, flags=re.MULTILINE) for block in blocks]
        self.assertIn("add `import threading` to the imports", fold(text))
        self.student.edit("tcp_server_docker.py", "\nimport sys\n", "\nimport sys\nimport threading\n")
        self.assertIn("just before the main loop (`try:` / `while True:`)", fold(text))
        main_loop = "\ntry:\n    while True:\n"
        self.student.edit("tcp_server_docker.py", main_loop, f"\n{serve}\n{main_loop}")
        self.assertIn("replace the whole `try:` ... `except OSError` block after the `select` lines",
                      fold(text))
        script = (self.student.folder / "tcp_server_docker.py").read_text()
        block = re.search(r"(?s)\n(        try:\n.*?\n        except OSError.*?\n            print\(.*?\)\n)",
                          script)
        self.student.edit("tcp_server_docker.py", block.group(1), loop)
        server = self.student.terminal(server_command)
        server.wait_for(r".*Waiting for a connection\.\.\..*")
        silent = self.student.terminal(self.silent_client())
        server.wait_for(r".*Connection from .*")
        for _ in range(3):  # "three times while it is connected": each served at once
            done = self.student.type(client_command, timeout=8)
            self.assertEqual((done.returncode, done.stdout.splitlines()[-1], done.stderr),
                             (0, "closing socket", ""))
        self.assertFalse([line for line in server.lines if "Dropped" in line])
        server.wait_for(r".*Dropped the client: timed out.*", timeout=15)  # still dropped, in time
        self.assertEqual(self.student.ctrl_c(server), 0)
        self.assertEqual(server.lines[-1], "Stopping TCP server")
        self.student.ctrl_c(silent)
        self.undo("tcp_server_docker.py")

    def silent_client(self):
        return next(c for c in commands(exercise_text(README, 1)) if c.startswith("python3 -c"))

    def exercise_3(self, text, typed):
        udp, tcp = typed
        self.assertIn("No reply within 1 s", quoted(text))
        done = self.student.type(udp)
        self.assertEqual((done.returncode, done.stdout.splitlines().count("No reply within 1 s")), (1, 10))
        self.assertEqual(done.stderr, "Error: no reply from localhost:10001 after 10 tries; "
                                      "is the UDP server running?\n")
        done = self.student.type(tcp)  # "it too gives up after 10 seconds"
        self.assertEqual((done.returncode, done.stderr),
                         (1, "Error: no TCP server is listening on localhost port 10000\n"))

    def exercise_4(self, text, typed):
        start, too_big = typed
        self.assertEqual(self.student.type(start).returncode, 0)
        wait_until(lambda: "Waiting to receive message..." in self.student.log("udp-server"), 30,
                   "udp-server")
        done = self.student.type(too_big)
        said = quoted(text)
        self.assertIn(done.stderr.strip(), said)  # It prints `Error: ... Message too long`
        self.assertEqual(done.stdout, "")
        self.assertIn("With 65,507 it works", fold(text))
        done = self.student.type(too_big.replace("65508", "65507"))
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertIn(done.stdout.strip(), said)  # `Received 65507 bytes from ('127.0.0.1', 10001)`
        self.remove_the_lab()

    def client_exits(self, terminal):
        """An attached `up`: once tcp-client has exited, Ctrl-C, as the student does."""
        self.assertEqual(self.student.exited("tcp-client"), [0])
        self.student.ctrl_c(terminal)

    def exercise_5(self, text, typed):
        (run,) = typed
        old, new = re.search(r"change the line `([^`]+)` to `([^`]+)`", fold(text)).groups()
        self.student.edit("tcp_server_docker.py", old, new)
        self.client_exits(self.student.terminal(run))
        chunks = [line for line in self.student.log("tcp-server") if line.startswith("Received: ")]
        self.assertEqual(len(chunks), 23)  # "23 chunks (22 of 4 bytes and one of 3)"
        self.assertIn("The server now prints 23 chunks (22 of 4 bytes and one of 3)", fold(text))
        self.undo("tcp_server_docker.py")
        self.remove_the_lab()

    def exercise_6(self, text, typed):
        start, wrong = typed
        self.assertEqual(self.student.type(start).returncode, 0)
        done = self.student.type(wrong)
        self.assertIn("no TCP server is listening", quoted(text))
        self.assertEqual((done.returncode, done.stderr),
                         (1, "Error: no TCP server is listening on localhost port 10002\n"))
        self.assertIn("Try `SERVER_PORT=abc` too", fold(text))
        done = self.student.type(wrong.replace("10002", "abc"))
        self.assertEqual((done.returncode, done.stdout, done.stderr),
                         (1, "", "Error: SERVER_PORT must be a number from 1 to 65535, not 'abc'\n"))
        self.remove_the_lab()

    def exercise_7(self, text, typed):
        server_command, netcat, _ = typed
        self.assertEqual(netcat, "nc localhost 10000")  # or exercise 1's line, which needs no nc
        server = self.student.terminal(server_command)
        server.wait_for(r"Waiting for a connection\.\.\.")
        silent = self.student.terminal(self.silent_client())
        server.wait_for(r"Connection from .*")
        self.assertIn("Dropped the client: timed out", quoted(text))
        server.wait_for(r"Dropped the client: timed out", timeout=15)
        self.assertEqual(self.student.ctrl_c(server), 0)
        self.student.ctrl_c(silent)

    def exercise_8(self, text, typed):
        (run,) = typed
        setting = re.search(r"`(MESSAGE: \"[^\"]+\")` \(a line of its own under its `environment:`\)",
                            fold(text)).group(1)
        compose = (self.student.folder / "docker-compose.yml").read_text()
        client = compose.index("  tcp-client:\n")
        at = compose.index("    environment:\n", client) + len("    environment:\n")
        (self.student.folder / "docker-compose.yml").write_text(
            f"{compose[:at]}      {setting}\n{compose[at:]}")
        self.client_exits(self.student.terminal(run))
        client = docker("ps", "-aq", "--filter", "label=com.docker.compose.project=walkthrough",
                        "--filter", "label=com.docker.compose.service=tcp-client")[1].split()
        self.assertEqual(self.student.log(client[0]), [
            "Connecting to tcp-server port 10000", "sending b'Hola desde Oviedo'",
            "received b'Hola desde Ovied'", "received b'o'", "closing socket"])  # 16 and 1
        self.undo("docker-compose.yml")
        self.remove_the_lab()


class TheWire(unittest.TestCase):
    """wire/README.md from the top, and its exercises 9, 10 and 12 to 15, in one clone."""

    @exercise(9, 10, 12, 13, 14, 15)
    def test_the_wire_chapter_in_order(self):
        self.student = Student(self)
        capture, remove = commands(section(WIRE, "## Seeing the packets"))[:2]
        self.assertEqual(remove, capture.replace(" up --build", " down"))
        self.run_and_remove(capture, remove)
        (draw,) = commands(section(WIRE, "## Drawing the wire"))[:1]
        self.assertEqual(self.drawn(draw), ["TCP: 20 packets, none lost, none sent again by the kernels",
                                            "UDP: 2 datagrams, none lost"])
        lossy, remove = commands(section(WIRE, "## An impaired network"))[1:3]
        self.assertEqual(remove, lossy.replace("LOSS_EVERY=4 ", "").replace(" up --build", " down"))
        self.run_and_remove(lossy, remove, self.exercise_9)
        tcp, udp = self.drawn(draw)
        lost = re.fullmatch(r"TCP: \d+ packets, (\d+) lost, \d+ sent again by the kernels", tcp)
        self.assertGreaterEqual(int(lost.group(1)), 4, tcp)  # and every fourth resent FIN
        self.assertRegex(udp, r"^UDP: 3 datagrams, 1 lost, sent again by the client after 1\.0\d s$")
        self.exercise_10(exercise_text(WIRE, 10))
        self.exercise_12(exercise_text(WIRE, 12), draw)
        self.round_trips(draw)
        self.order(draw)
        self.duplicates(draw)

    def typed(self, line):
        """Type a command that must succeed: its output lines."""
        done = self.student.type(line)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("orphan", done.stderr)
        return done.stdout.splitlines()

    def shown(self, heading, first_line):
        """The lines of the output block under a heading that begins with first_line."""
        return next(block for _, block in FENCE.findall(section(WIRE, heading))
                    if block.startswith(first_line)).splitlines()

    def round_trips(self, draw):
        """Round trips, and exercise 13: the clients' times, the drawing's round trips; then
        three times the delay, three times each figure."""
        up, logs, down, drawing = commands(section(WIRE, "## Round trips"))
        self.assertEqual(drawing, draw)
        for delay in (0.1, 0.3):
            self.typed(up.replace("DELAY_MS=100", f"DELAY_MS={int(delay * 1000)}"))
            self.assertEqual(self.student.exited("tcp-client", "udp-client"), [0, 0])
            times = {}
            for line in self.typed(logs):
                client, stamp = re.match(r"(\S+?)-1 +\| \S+T(\S+)Z ", line).groups()
                hours, minutes, seconds = stamp.split(":")
                times.setdefault(client, []).append(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
            tcp, udp = times["tcp-client"], times["udp-client"]
            for later, earlier, trips in ((tcp[1], tcp[0], 1), (tcp[-2], tcp[1], 2), (udp[2], udp[0], 1)):
                self.assertTrue(trips * delay <= later - earlier < trips * delay + 0.1, times)
            self.typed(down)
            tallies = [line for line in self.drawn(draw) if "round trip" in line]
            shown = [line for line in self.shown("## Round trips", "seconds tcp-client")
                     if "round trip" in line]
            self.assertEqual(len(tallies), len(shown))
            for mine, theirs in zip(tallies, shown):  # the same, but for a busy computer's lateness
                late = f"{delay:.2f}".replace(".", r"\.")[:-1] + "[0-4]"
                self.assertRegex(mine, "^" + re.escape(theirs).replace(r"0\.10\ s", late + r"\ s") + "$")
        self.assertIn("Then try `DELAY_MS=300`: every figure triples, the count stays.",
                      fold(exercise_text(WIRE, 13)))

    def order(self, draw):
        """Order, and exercise 14: ten datagrams out of order, a long message in order."""
        up, many, logs, long, down, drawing = commands(section(WIRE, "## Order"))
        self.assertEqual(drawing, draw)
        self.typed(up)
        self.assertEqual(self.student.exited("tcp-client", "udp-client"), [0, 0])
        self.typed(many)
        data = self.shown("## Order", "Data:")
        wait_until(lambda: len(self.typed(logs)) == len(data), 10, "the datagrams at udp-server")
        self.assertEqual(self.typed(logs), data)
        self.assertEqual(self.typed(long), ["closing socket"])
        self.typed(down)
        tcp, *_ = [line for line in self.drawn(draw) if line.startswith("TCP: ")][1:]
        self.assertRegex(tcp, r"^TCP: \d+ overtaken$")

    def duplicates(self, draw):
        """Duplicates, and exercise 15: the datagram twice, the chunks once."""
        up, down, drawing = commands(section(WIRE, "## Duplicates"))
        self.assertEqual(drawing, draw)
        logs = next(c for c in commands(exercise_text(WIRE, 15)) if " logs " in c)
        terminal = self.student.terminal(up)
        self.assertEqual(self.student.exited("tcp-client", "udp-client"), [0, 0], terminal.errors)
        lines = self.typed(logs)
        self.assertEqual(sum("| Received 48 bytes from" in line for line in lines), 2)
        self.assertEqual(sum("| Received: b'" in line for line in lines), 6)
        self.student.ctrl_c(terminal)
        self.typed(down)
        self.assertEqual([line for line in self.drawn(draw) if line.startswith("UDP: ")],
                         ["UDP: 4 datagrams, none lost", "UDP: 1 copy by the network"])

    def run_and_remove(self, up, down, while_it_runs=None, codes=(0, 0)):
        """An attached `up`: both clients exit (with these codes, unless None); then Ctrl-C,
        and `down` with the same files, which leaves nothing of the lab behind."""
        terminal = self.student.terminal(up)
        exited = self.student.exited("tcp-client", "udp-client")
        if codes is not None:
            self.assertEqual(exited, list(codes), terminal.errors)
        if while_it_runs:
            while_it_runs()
        self.student.ctrl_c(terminal)
        done = self.student.type(down)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("orphan", done.stderr)
        left = docker("ps", "-aq", "--filter", "label=com.docker.compose.project=walkthrough")[1]
        self.assertEqual(left, "")

    def drawn(self, draw):
        """The drawing, with no warning about anything left behind, valid Mermaid 11 where
        the tests are given a parser (CI): its two tally lines."""
        done = self.student.type(draw)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("orphan", done.stderr.lower())
        captures = self.student.folder / "wire" / "captures"
        checked = mermaid_check(captures / "tcp.md", captures / "udp.md")
        if checked:
            self.assertEqual(checked[0], 0, checked[1])
        return [line for line in done.stdout.splitlines() if re.match(r"(TCP|UDP): ", line)]

    def exercise_9(self):
        """While the LOSS_EVERY=4 run is up: its client's log, with the times."""
        text = exercise_text(WIRE, 9)
        logs = next(c for c in commands(text) if "--timestamps" in c)
        done = self.student.type(logs)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = [line for line in done.stdout.splitlines() if "Connecting to" in line or " sending " in line]
        stamps = [re.search(r"T(\d\d):(\d\d):(\d\d\.\d+)", line).groups() for line in lines]
        connecting, sending = (int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in stamps)
        self.assertIn("a whole second passes between `Connecting to tcp-server port 10000` and `sending`",
                      fold(text))
        self.assertTrue(1.0 <= (sending - connecting) % 86400 < 2.0, lines)

    def exercise_10(self, text):
        up, down = [c for c in commands(text) if "LOSS_PERCENT=100" in c or c.endswith(" down")]
        terminal = self.student.terminal(up)
        self.assertEqual(self.student.exited("tcp-client", "udp-client"), [1, 1], terminal.errors)
        shown = "\n".join(terminal.lines + terminal.errors)  # the containers' stderr is Compose's
        self.assertEqual(len(re.findall(r"udp-client\S* +\| No reply within 1 s$", shown, re.MULTILINE)), 10)
        self.assertRegex(shown, r"tcp-client\S* +\| Error: cannot connect to tcp-server port 10000: "
                                r"timed out")
        self.assertIn("Error: cannot connect to tcp-server port 10000: timed out", quoted(text))
        self.student.ctrl_c(terminal)
        done = self.student.type(down)
        self.assertEqual((done.returncode, "orphan" in done.stderr), (0, False), done.stderr)

    def exercise_12(self, text, draw):
        up, down, drawing = [c for c in commands(text) if "docker compose" in c]
        self.assertEqual(drawing, draw)
        for run in range(3):  # "three times"; at 30 %, now and then a client gives up
            self.run_and_remove(up, down, codes=None)
            tcp, _ = self.drawn(drawing)
            self.assertRegex(tcp, r"^TCP: \d+ packets")
            shutil.copy(self.student.folder / "wire" / "captures" / "tcp.md",
                        self.student.folder / f"run-{run + 1}.md")  # "keep a copy"
