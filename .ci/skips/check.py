"""CI only: a green run means every check ran. Compare the skips one step of .ci/run
recorded (sitecustomize.py) with the skips that step expects (expected.txt).

    check.py STEP LOG...    fail on any skip in the LOGs that STEP does not expect
    check.py --summary      print every step's expected skips, with their reasons

An expected skip that did not happen is reported too, but does not fail: it means
more ran than the list says, and the list should shrink.
"""
import fnmatch
import sys
from pathlib import Path
from typing import NamedTuple

EXPECTED = Path(__file__).with_name("expected.txt")


class Expected(NamedTuple):
    step: str
    test: str  # a test id, or an fnmatch pattern of test ids
    reason: str


def expected():
    """expected.txt: a line `STEP | TEST ID | WHY` per skip; # starts a comment."""
    found = []
    for line in EXPECTED.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            step, test, reason = (part.strip() for part in line.split("|"))
            found.append(Expected(step, test, reason))
    return found


def recorded(logs):
    """(test id, reason) for every skip in the logs; a missing log recorded none."""
    skips = []
    for log in map(Path, logs):
        if log.exists():
            skips += [tuple(line.split("\t", 1)) for line in log.read_text().splitlines()]
    return skips


def check(step, logs):
    wanted = [e for e in expected() if e.step == step]
    unexpected = [(test, reason) for test, reason in recorded(logs)
                  if not any(fnmatch.fnmatchcase(test, e.test) for e in wanted)]
    seen = {e.test for e in wanted
            for test, _ in recorded(logs) if fnmatch.fnmatchcase(test, e.test)}
    for test, reason in unexpected:
        print(f"UNEXPECTED SKIP in step {step!r}: {test}: {reason}")
    for e in wanted:
        if e.test not in seen:
            print(f"note: step {step!r} expected {e.test} to skip, and it ran")
    print(f"step {step!r}: {len(recorded(logs))} skips, {len(unexpected)} unexpected")
    return 1 if unexpected else 0


def summary():
    print("The skips each step expects:")
    for e in expected():
        print(f"  {e.step:<8} {e.test}\n  {'':<8}   {e.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(summary() if sys.argv[1:] == ["--summary"] else check(sys.argv[1], sys.argv[2:]))
