"""CI only: record every skip a unittest run reports, a line each, in the file that
LAB_SKIP_LOG names (.ci/run puts this folder on PYTHONPATH, and Python imports this
module as it starts). .ci/skips/check.py compares them with what that step expects.
The variable is taken out of the environment: the processes the tests start (the lab's
scripts among them) record nothing and are left as they are."""
import os

LOG = os.environ.pop("LAB_SKIP_LOG", None)

if LOG:
    import unittest.result

    _add_skip = unittest.result.TestResult.addSkip

    def _record(self, test, reason):
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(f"{test.id()}\t{' '.join(str(reason).split())}\n")
        _add_skip(self, test, reason)

    unittest.result.TestResult.addSkip = _record
