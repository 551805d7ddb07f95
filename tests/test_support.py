"""The helpers' own logic, where it decides what the other tests run: no engine needed."""
import os
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from lab import compose_commands


def fake_programs(test, **versions):
    """A folder on an otherwise empty PATH with programs that print a version: `docker`
    (for `docker compose version --short`) and `docker-compose`."""
    folder = Path(tempfile.mkdtemp(prefix="socketlab-path-"))
    test.addCleanup(shutil.rmtree, folder)
    for name, version in versions.items():
        program = folder / name.replace("_", "-")
        program.write_text(f"#!/bin/sh\necho {version}\n")
        program.chmod(0o755)
    return mock.patch.dict(os.environ, {"PATH": str(folder)})


@unittest.skipIf(os.name != "posix", "the fake programs are shell scripts")
class ComposeFlavours(unittest.TestCase):
    def test_legacy_is_docker_compose_1(self):
        with fake_programs(self, docker="2.40.3", docker_compose="1.29.2"):
            self.assertEqual(compose_commands(), {"Compose v2": ["docker", "compose"],
                                                  "legacy": ["docker-compose"]})

    def test_a_docker_compose_that_reports_2_is_compose_v2(self):
        """Debian trixie's docker-compose package, Docker Desktop's binary."""
        with fake_programs(self, docker_compose="v2.33.1"):
            self.assertEqual(compose_commands(), {"Compose v2": ["docker-compose"]})
        with fake_programs(self, docker="2.40.3", docker_compose="2.33.1"):
            self.assertEqual(compose_commands(), {"Compose v2": ["docker", "compose"]})

    def test_none_installed(self):
        with fake_programs(self):
            self.assertEqual(compose_commands(), {})


if __name__ == "__main__":
    unittest.main()
