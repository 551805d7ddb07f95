"""Which exercises did this run check? This file runs last (unittest and pytest take the
test files in the order of their names), after every test marked @exercise(N).

An exercise is checked when one of its tests ran to its end. One whose tests all skipped
(no Docker engine, say) or were not run shows here as a skip that names it, not as a pass.
"""
import unittest
from pathlib import Path

from support import CHECKED_EXERCISES, ROOT
from handout import exercise_numbers


class Exercises(unittest.TestCase):
    def test_every_exercise_was_checked_in_this_run(self):
        this = Path(__file__).name
        marked = sorted(path.name for path in ROOT.glob("tests/test_*.py")
                        if path.name != this and "\n    @exercise(" in path.read_text(encoding="utf-8"))
        self.assertTrue(marked)
        self.assertLess(marked[-1], this, "a file of exercise tests runs after this one")
        unchecked = [n for n in exercise_numbers() if n not in CHECKED_EXERCISES]
        if unchecked:
            self.skipTest(f"exercises {', '.join(map(str, unchecked))} went unchecked: "
                          "their tests skipped or did not run")


if __name__ == "__main__":
    unittest.main()
