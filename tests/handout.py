"""The handouts as the tests read them: the three READMEs, their sections, code blocks,
commands and sample lines. Every test that checks a promise of the text finds the text
here, cut the same way.
"""
import re
import shlex

from support import ROOT

DOCS = {name: (ROOT / name).read_text(encoding="utf-8")
        for name in ("README.md", "wire/README.md", "tests/README.md")}
README = DOCS["README.md"]
WIRE = DOCS["wire/README.md"]


def section(text, heading):
    """One section of a README: from its heading to the next heading of its level or higher."""
    level = heading.split(" ", 1)[0]
    body = "\n" + text.split(f"\n{heading}\n", 1)[1]
    return re.split(rf"\n#{{1,{len(level)}}} ", body, maxsplit=1)[0]


def code_blocks(language, text=None):
    """(indentation, body) of every code block of a language, in one text or in all three."""
    texts = [text] if text else DOCS.values()
    return [block for doc in texts
            for block in re.findall(rf"^( *)```{language}\n(.*?)^ *```$", doc, re.MULTILINE | re.DOTALL)]


def blocks(language, text=None):
    """The code blocks of a language, without a list's indentation."""
    return [re.sub(rf"^{indent}", "", block, flags=re.MULTILINE)
            for indent, block in code_blocks(language, text)]


def exercise_text(doc, number):
    """The text of one exercise of a README, with its indentation and line breaks."""
    return re.search(rf"^{number}\. \*\*.*?(?=^\d+\. \*\*|\Z)", section(doc, "## Exercises"),
                     re.MULTILINE | re.DOTALL).group(0)


def exercise_numbers():
    """The numbers of the exercises in the READMEs, in the order they come."""
    return [int(n) for doc in (README, WIRE)
            for n in re.findall(r"^(\d+)\. \*\*", section(doc, "## Exercises"), re.MULTILINE)]


def wire_block(heading, first_line):
    """The lines of the wire/README.md block in a section that begins with first_line."""
    found = next(block for block in blocks(r"\w*", section(WIRE, heading)) if block.startswith(first_line))
    return found.splitlines()


def wire_commands(heading):
    """The Compose commands of a wire/README.md section's bash blocks, each as (the files
    after the main one, the arguments after them), the settings in front and what it
    pipes into dropped."""
    commands = []
    for line in "".join(blocks("bash", section(WIRE, heading))).splitlines():
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


def drawn_in_wire(heading, protocol):
    """The Mermaid ladder of one protocol, and its tally line, that wire/README.md shows
    in a section: real output of draw.py, pasted."""
    text = section(WIRE, heading)
    diagram = next(block for block in blocks("mermaid", text)
                   if f"participant C as {protocol}-client" in block)
    tally = re.search(rf"^{protocol.upper()}: .*$", text, re.MULTILINE).group(0)
    return diagram, tally


# wire/README.md's LOSS_EVERY=4 run, as it pastes it: {service: its lines}.
_RUN = section(WIRE, "### One run, packet by packet")
LOSS_RUN = {name: block.splitlines() for name, block in zip(
    ("tcp-impair", "tcp-capture", "udp-impair", "udp-client"),
    [*blocks("console", _RUN), *blocks("text", _RUN)])}
PODMAN = section(README, "## Podman instead of Docker")
WIRE_PODMAN = section(WIRE, "## With Podman")
TROUBLESHOOTING = section(README, "## Troubleshooting")
