"""The README is the lecture handout: its samples, commands and settings must match the code.

The formats of the lines the scripts print are read from the scripts themselves (their
print() and sys.exit() calls), so a changed format without a changed README fails here.
"""
import ast
import re
import unittest

from support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
SCRIPTS = sorted(ROOT.glob("*_docker.py"))
COMPOSE_FILE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")


def code_blocks(language):
    return re.findall(rf"^ *```{language}\n(.*?)^ *```$", README, re.MULTILINE | re.DOTALL)


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


def compose_commands():
    """Every `docker compose ...` or `docker-compose ...` the README shows, as a list of words."""
    texts = [line for block in code_blocks(r"(?:bash|powershell|bat)") for line in block.splitlines()]
    prose = re.sub(r"^ *```.*?^ *```$", "", README, flags=re.MULTILINE | re.DOTALL)
    texts += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    commands = []
    for text in texts:
        text = text.split("#")[0]
        found = re.match(r"\s*(?:[A-Z_]+=\S+ )*docker(?: compose|-compose)(?=\s|$)(.*)", text)
        if found and found.group(1).split():  # not a bare mention of the program
            commands.append(found.group(1).split())
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


class SampleOutput(unittest.TestCase):
    def test_every_sample_block_is_what_one_script_prints(self):
        formats = output_formats()
        self.assertGreater(sum(map(len, formats.values())), 20)
        blocks = code_blocks("text")
        self.assertGreater(sum(len(block.splitlines()) for block in blocks), 30)
        for block in blocks:
            with self.subTest(block=block.splitlines()[0]):
                printers = [script for script, theirs in formats.items()
                            if all(any(re.fullmatch(f, line) for f in theirs)
                                   for line in block.splitlines())]
                self.assertTrue(printers, "no script prints every line of this block")

    def test_samples_show_all_four_containers(self):
        text = "\n".join(code_blocks("text"))
        for first_line in ("Starting TCP server on port 10000", "Connecting to tcp-server port 10000",
                           "Starting UDP server on port 10001",
                           "Sending b'This is our message. It will be sent all at once' to udp-server:10001"):
            self.assertIn(first_line, text)


class Commands(unittest.TestCase):
    def test_compose_commands_name_only_services_of_the_compose_files(self):
        self.assertEqual(compose_services(), {"tcp-server", "tcp-client", "udp-server", "udp-client"})
        commands = compose_commands()
        self.assertGreater(len(commands), 15)
        for words in commands:
            with self.subTest(command=" ".join(words)):
                files, command, named = parse(words)
                self.assertIn(command, {"up", "down", "logs", "stop", "run", "ps", "config"})
                services = set().union(*(compose_services(name) for name in files))
                self.assertLessEqual(set(named), services)

    def test_the_wire_files_add_their_services_and_readme_commands_use_them(self):
        self.assertEqual(compose_services("wire/capture.yml"),
                         {"tcp-capture", "udp-capture", "tcp-client", "udp-client"})
        self.assertEqual(compose_services("wire/loss.yml"), {"loss-settings", "tcp-loss", "udp-loss",
                                                             *compose_services()})
        used = {name for words in compose_commands() for name in parse(words)[0]}
        self.assertEqual(used, {"docker-compose.yml", "wire/capture.yml", "wire/loss.yml"})
        _, command, named = parse(["-f", "docker-compose.yml", "-f", "wire/capture.yml",
                                   "logs", "-f", "tcp-capture", "udp-capture"])
        self.assertEqual((command, named), ("logs", ["tcp-capture", "udp-capture"]))
        self.assertNotIn("tcp-capture", compose_services())

    def test_docker_exec_names_a_server_container(self):
        containers = set(re.findall(r"container_name: ([a-z0-9-]+)", COMPOSE_FILE))
        execs = re.findall(r"docker exec -it ([a-z0-9-]+)", README)
        self.assertTrue(execs)
        self.assertLessEqual(set(execs), containers)

    def test_network_inspect_names_the_compose_network(self):
        network = re.search(r"^networks:\n  \S+:\n(?:    .*\n)*?    name: (\S+)", COMPOSE_FILE,
                            re.MULTILINE).group(1)
        self.assertEqual(set(re.findall(r"docker network inspect (\S+)", README)), {network})


class Settings(unittest.TestCase):
    def test_the_settings_table_lists_exactly_the_variables_the_scripts_read(self):
        table = README.split("### Settings", 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
        documented = set(re.findall(r"^\| `([A-Z_]+)` \|", "|" + table, re.MULTILINE))
        read = set()
        for script in SCRIPTS:
            read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', script.read_text()))
        self.assertEqual(read, {"LISTEN_HOST", "LISTEN_PORT", "SERVER_HOST", "SERVER_PORT", "MESSAGE"})
        self.assertEqual(documented, read)

    def test_the_loss_settings_table_lists_what_wire_reads_with_its_defaults(self):
        table = README.split("### Loss settings", 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
        documented = dict(re.findall(r"^\| `([A-Z_]+)` \| (\S+) \|", "|" + table, re.MULTILINE))
        script = (ROOT / "wire" / "loss.sh").read_text(encoding="utf-8")
        read = dict(re.findall(r"\$\{([A-Z_]+):-([^}]*)\}", script))
        self.assertEqual(read, {"LOSS_PERCENT": "20", "LOSS_EVERY": ""})
        self.assertEqual(documented, {name: f"`{default}`" if default else "unset"
                                      for name, default in read.items()})
        passed = re.search(r"environment: \[(.*)\]", (ROOT / "wire" / "loss.yml").read_text())
        self.assertEqual(set(passed.group(1).split(", ")), set(read))

    def test_the_idle_timeout_is_the_one_documented(self):
        timeout = re.search(r"^IDLE_TIMEOUT = (\d+)", (ROOT / "tcp_server_docker.py").read_text(),
                            re.MULTILINE).group(1)
        self.assertRegex(" ".join(README.split()), rf"says nothing for {timeout} seconds is dropped")


class Exercises(unittest.TestCase):
    def test_every_exercise_has_a_test(self):
        section = README.split("\n## Exercises\n", 1)[1].split("\n## ", 1)[0]
        numbers = [int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.MULTILINE)]
        self.assertEqual(numbers, list(range(1, len(numbers) + 1)))
        self.assertGreaterEqual(len(numbers), 11)
        tests = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("test_*.py"))
        for number in numbers:
            with self.subTest(exercise=number):
                self.assertTrue(re.search(rf"(?i)exercise[ _]{number}(?!\d)", tests),
                                f"no test names exercise {number}")


class Diagrams(unittest.TestCase):
    def test_mermaid_diagrams(self):
        diagrams = code_blocks("mermaid")
        self.assertEqual([d.split()[0] for d in diagrams],
                         ["flowchart", "sequenceDiagram", "sequenceDiagram"])
        for diagram in diagrams[1:]:
            declared = set(re.findall(r"^\s*participant (\w+) as ", diagram, re.MULTILINE))
            used = set(re.findall(r"^\s*(\w+)-[->]+>?(\w+):", diagram, re.MULTILINE))
            self.assertEqual({name for pair in used for name in pair}, declared)
            self.assertNotIn(";", diagram)  # a semicolon ends a Mermaid statement


if __name__ == "__main__":
    unittest.main()
