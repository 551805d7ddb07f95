"""The READMEs are the lecture handout: their samples, commands, settings and links must
match the code.

The formats of the lines the scripts print are read from the scripts themselves (their
print() and sys.exit() calls), so a changed format without a changed README fails here.
"""
import ast
import re
import shlex
import unittest

from handout import DOCS, README, WIRE, blocks, exercise_numbers, section
from support import ROOT, fold, mermaid_check

SCRIPTS = sorted(ROOT.glob("*_docker.py"))
COMPOSE_FILE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE_FILES = ("docker-compose.yml", "wire/capture.yml", "wire/impair.yml", "wire/draw.yml")


def output_formats():
    """For each script, a regular expression for every line it can print (f-string fields are
    wildcards)."""
    formats = {}
    for script in SCRIPTS:
        formats[script.name] = []
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args) or ast.unparse(node.func) not in (
                    "print", "sys.exit"):
                continue
            text = node.args[0]
            parts = text.values if isinstance(text, ast.JoinedStr) else [text]
            formats[script.name].append("".join(
                re.escape(part.value) if isinstance(part, ast.Constant) else ".*" for part in parts))
    return formats


def compose_services(name="docker-compose.yml"):
    text = (ROOT / name).read_text(encoding="utf-8")
    services = text.split("\nservices:\n", 1)[1].split("\nnetworks:", 1)[0]
    return set(re.findall(r"^  ([a-z0-9-]+): *(?:#.*)?$", services, re.MULTILINE))


def handout_compose_commands():
    """Every `docker compose ...`, `docker-compose ...` or `podman-compose ...` the READMEs
    show, as a list of words."""
    texts = [line for block in blocks(r"(?:bash|powershell|bat)") for line in block.splitlines()]
    for doc in DOCS.values():
        prose = re.sub(r"^ *```.*?^ *```$", "", doc, flags=re.MULTILINE | re.DOTALL)
        texts += [fold(span) for span in re.findall(r"`([^`]+)`", prose)]
    commands = []
    for text in texts:
        text = text.split("#")[0]
        found = re.match(r"\s*(?:[A-Z_]+=\S+ )*(?:docker(?: compose|-compose)|podman-compose)(?=\s|$)(.*)",
                         text)
        words = shlex.split(found.group(1)) if found else []
        words = words[:words.index("|")] if "|" in words else words  # not what it pipes into
        if words:  # not a bare mention of the program
            commands.append(words)
    return commands


def parse(words):
    """Split `docker compose` arguments into (files, command, services named)."""
    files, words = [], list(words)
    while words and words[0].startswith("-"):  # options before the command
        option = words.pop(0)
        if option in ("-f", "--file"):
            files.append(words.pop(0))
        elif option in ("-p", "--project-name", "--profile", "--env-file", "--project-directory"):
            words.pop(0)
    command, named = (words.pop(0) if words else None), []
    while words:  # the command's own options, then its services
        word = words.pop(0)
        if word == "--scale":
            named.append(words.pop(0).split("=")[0])
        elif word in ("-t", "--timeout", "--tail", "-e", "--env", "-u", "--user", "-w", "--workdir"):
            words.pop(0)
        elif not word.startswith("-") and not word.isupper():  # SERVICE is a placeholder
            named.append(word)
            if command in ("run", "exec"):
                break  # what follows is the command to run in the container
    return files or ["docker-compose.yml"], command, named


def anchor(heading):
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


class SampleOutput(unittest.TestCase):
    def test_every_sample_block_is_what_one_script_prints(self):
        formats = output_formats()
        self.assertGreater(sum(map(len, formats.values())), 20)
        samples = blocks("text")
        self.assertGreater(sum(len(block.splitlines()) for block in samples), 30)
        for block in samples:
            with self.subTest(block=block.splitlines()[0]):
                printers = [script for script, theirs in formats.items()
                            if all(any(re.fullmatch(f, line) for f in theirs)
                                   for line in block.splitlines())]
                self.assertTrue(printers, "no script prints every line of this block")

    def test_samples_show_all_four_containers(self):
        text = "\n".join(blocks("text", README))
        for first_line in ("Starting TCP server on port 10000", "Connecting to tcp-server port 10000",
                           "Starting UDP server on port 10001",
                           "Sending b'This is our message. It will be sent all at once' to udp-server:10001"):
            self.assertIn(first_line, text)

    def test_the_udp_servers_acknowledgement_is_explained_where_it_is_shown(self):
        shown = section(README, "## What you should see")
        self.assertIn("Sending acknowledgement back to", shown)
        self.assertIn("UDP itself acknowledges nothing", fold(shown))


class Commands(unittest.TestCase):
    def test_compose_commands_name_only_services_of_the_compose_files(self):
        self.assertEqual(compose_services(), {"tcp-server", "tcp-client", "udp-server", "udp-client"})
        commands = handout_compose_commands()
        self.assertGreater(len(commands), 20)
        for words in commands:
            with self.subTest(command=" ".join(words)):
                files, command, named = parse(words)
                self.assertIn(command, {"up", "down", "logs", "stop", "run", "ps", "config", "version"})
                self.assertLessEqual(set(files), set(COMPOSE_FILES))
                services = set().union(*(compose_services(name) for name in files))
                self.assertLessEqual(set(named), services)

    def test_the_wire_files_add_their_services_and_readme_commands_use_them(self):
        self.assertEqual(compose_services("wire/capture.yml"),
                         {"tcp-capture", "udp-capture", "tcp-client", "udp-client"})
        self.assertEqual(compose_services("wire/impair.yml"), {"impair-settings", "tcp-impair", "udp-impair",
                                                             *compose_services()})
        self.assertEqual(compose_services("wire/draw.yml"), {"draw"})
        used = {name for words in handout_compose_commands() for name in parse(words)[0]}
        self.assertEqual(used, set(COMPOSE_FILES))
        _, command, named = parse(["-f", "docker-compose.yml", "-f", "wire/draw.yml", "run", "--rm", "draw"])
        self.assertEqual((command, named), ("run", ["draw"]))
        self.assertNotIn("tcp-capture", compose_services())

    def test_the_clients_wait_for_the_ports_the_wire_tools_open(self):
        """capture.yml and impair.yml give the clients the same wait (either file may come
        last), for the ports that capture.sh and impair.py open and the READMEs name."""
        waits, ports = {}, {}
        for tool, variable, readme in (("capture", "CAPTURE_READY", "port 9000 of the server"),
                                       ("impair", "IMPAIR_READY", "port 9001 of their server")):
            text = (ROOT / "wire" / f"{tool}.yml").read_text()
            waits[tool] = re.search(r"\n  entrypoint:\n(.*?)\n  environment:\n", text, re.S).group(1)
            ports[tool] = re.search(rf'\n    {variable}: "(\d+)"\n', text).group(1)
            self.assertIn(readme, fold(WIRE))
        self.assertRegex((ROOT / "wire" / "capture.sh").read_text(),
                         rf"\nready\.sh {ports['capture']} /proc/net/\S+ \d &\n")
        self.assertRegex((ROOT / "wire" / "impair.py").read_text(),
                         rf"\nREADY_PORT = {ports['impair']}  #")
        self.assertEqual(waits["capture"], waits["impair"])
        self.assertIn("for port in $$CAPTURE_READY $$IMPAIR_READY; do", waits["capture"])
        # 300 knocks 0.1 s apart: "up to 30 s", as wire/README.md says.
        self.assertRegex(waits["capture"], r"for _ in \$\$\(seq 300\); do .*\n.*\n *sleep 0\.1\n")
        self.assertIn("the client waits for that, up to 30 s", fold(WIRE))
        self.assertIn("port 9000 (the capture's) or 9001 (impair.py's)", fold(WIRE))

    def test_docker_exec_names_a_server_container(self):
        containers = set(re.findall(r"container_name: ([a-z0-9-]+)", COMPOSE_FILE))
        execs = re.findall(r"docker exec -it ([a-z0-9-]+)", README)
        self.assertTrue(execs)
        self.assertLessEqual(set(execs), containers)

    def test_network_inspect_names_the_compose_network(self):
        network = re.search(r"^networks:\n  \S+:\n(?:    .*\n)*?    name: (\S+)", COMPOSE_FILE,
                            re.MULTILINE).group(1)
        self.assertEqual(set(re.findall(r"docker network inspect (\S+)", README)), {network})

    def test_the_docker_compose_version_stated_is_the_one_the_files_need(self):
        stated = re.search(r"`docker-compose` program \(version (\d+\.\d+) or newer\)", README).group(1)
        files = "".join((ROOT / name).read_text() for name in COMPOSE_FILES)
        # depends_on's service_completed_successfully came in docker-compose 1.29.
        self.assertIn("service_completed_successfully", files)
        self.assertEqual(stated, "1.29")


class Settings(unittest.TestCase):
    def test_the_settings_table_lists_exactly_the_variables_the_scripts_read(self):
        table = section(README, "### Settings").split("\n\n|", 1)[1].split("\n\n", 1)[0]
        documented = set(re.findall(r"^\| `([A-Z_]+)` \|", "|" + table, re.MULTILINE))
        read = set()
        for script in SCRIPTS:
            read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', script.read_text()))
        self.assertEqual(read, {"LISTEN_HOST", "LISTEN_PORT", "SERVER_HOST", "SERVER_PORT", "MESSAGE"})
        self.assertEqual(documented, read)

    def test_the_impairment_settings_table_lists_what_impair_py_reads_with_its_ranges(self):
        table = section(WIRE, "### Impairment settings").split("\n\n|", 1)[1].split("\n\n", 1)[0]
        documented = re.findall(r"^\| `([A-Z_]+)` \| (\d+) to (\d+) \|", "|" + table, re.MULTILINE)
        script = (ROOT / "wire" / "impair.py").read_text(encoding="utf-8")
        ranges = re.search(r"\nRANGES = \{.*?\n\}", script, re.S).group(0)
        read = re.findall(r'"([A-Z_]+)": \((\d+), (\d+)\)', ranges)
        self.assertEqual(len(read), 8)
        self.assertEqual(documented, read)
        settings = yaml_list((ROOT / "wire" / "impair.yml").read_text(), "environment: &settings")
        self.assertEqual(settings, [name for name, _, _ in read])
        fields = re.search(r"\nclass Settings\(NamedTuple\):.*?\n\n", script, re.S).group(0)
        self.assertEqual(re.findall(r"\n    (\w+): int", fields), [name.lower() for name, _, _ in read])

    def test_the_idle_timeout_is_the_one_documented(self):
        timeout = re.search(r"^IDLE_TIMEOUT = (\d+)", (ROOT / "tcp_server_docker.py").read_text(),
                            re.MULTILINE).group(1)
        self.assertRegex(fold(README), rf"says nothing for {timeout} seconds is dropped")


def yaml_list(text, key):
    """The items of the YAML block list under `key` (a line of its own) in a Compose file."""
    block = text.split(key + "\n", 1)[1]
    return re.findall(r"^ +- (\S+)$", block.split("\n\n", 1)[0], re.MULTILINE)


class Exercises(unittest.TestCase):
    def test_every_exercise_has_a_test(self):
        numbers = exercise_numbers()
        self.assertEqual(numbers, list(range(1, len(numbers) + 1)))
        self.assertGreaterEqual(len(numbers), 12)

        def tests(suite):
            for test in suite:
                yield from tests(test) if isinstance(test, unittest.TestSuite) else [test]

        tested = {}  # exercise: the tests marked @exercise(N), read from the tests themselves
        for test in tests(unittest.defaultTestLoader.discover(str(ROOT / "tests"))):
            method = getattr(test, getattr(test, "_testMethodName", ""), None)
            for number in getattr(method, "exercises", ()):
                tested.setdefault(number, []).append(test.id())
        self.assertEqual(sorted(tested), numbers, tested)


class Links(unittest.TestCase):
    def test_every_link_between_the_readmes_reaches_a_heading(self):
        anchors = {name: {anchor(h) for h in re.findall(r"^#+ (.*)$", re.sub(
            r"^ *```.*?^ *```$", "", doc, flags=re.MULTILINE | re.DOTALL), re.MULTILINE)}
            for name, doc in DOCS.items()}
        checked = 0
        for name, doc in DOCS.items():
            folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
            for target in re.findall(r"\]\(([^)\s]+)\)", doc):
                if target.startswith("http"):
                    continue
                path, _, fragment = target.partition("#")
                linked = (folder + path).replace("wire/../", "").replace("tests/../", "") if path else name
                with self.subTest(doc=name, link=target):
                    self.assertTrue((ROOT / linked).exists(), linked)
                    if fragment:
                        self.assertIn(fragment, anchors[linked])
                    checked += 1
        self.assertGreater(checked, 20)
        for name in ("wire/README.md", "tests/README.md"):  # each reachable from the lesson
            self.assertIn(f"]({name}", README)


class Diagrams(unittest.TestCase):
    def test_mermaid_diagrams(self):
        diagrams = blocks("mermaid", README)
        self.assertEqual([d.split()[0] for d in diagrams],
                         ["flowchart", "sequenceDiagram", "sequenceDiagram"])
        drawn = blocks("mermaid", WIRE)
        self.assertEqual(len(drawn), 4)  # draw.py's: a perfect run and a lossy one
        for diagram in diagrams[1:] + drawn:
            declared = set(re.findall(r"^\s*participant (\w+) as ", diagram, re.MULTILINE))
            used = set(re.findall(r"^\s*(\w+)(?:-x|-[->]+>?)(\w+):", diagram, re.MULTILINE))
            self.assertEqual({name for pair in used for name in pair}, declared)
            self.assertNotIn(";", diagram)  # a semicolon ends a Mermaid statement

    def test_mermaid_11_parses_every_diagram(self):
        checked = mermaid_check(*(ROOT / name for name in DOCS))
        if checked is None:
            self.skipTest("set MERMAID_CHECK to a Mermaid parser (CI: node .ci/mermaid/check.mjs)")
        self.assertEqual(checked, (0, "7 Mermaid diagrams, 0 failed\n"))


class Projector(unittest.TestCase):
    def test_every_python_block_fits_79_columns(self):
        found = blocks("python")
        self.assertTrue(found)
        for block in found:
            self.assertEqual([line for line in block.splitlines() if len(line) > 79], [])


if __name__ == "__main__":
    unittest.main()
