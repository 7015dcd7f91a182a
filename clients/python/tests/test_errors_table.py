"""The client's reasons are exactly proto/errors.md's table, codes included."""

import re
import unittest

import credsd
from credsd import errors

from .support import ERRORS_MD


def table_of_errors_md():
    """[(reason, code)] in the order of the markdown table whose header is `| reason | code | when |`."""
    rows = []
    in_table = False
    with open(ERRORS_MD, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("|"):
                if in_table:
                    break
                continue
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if cells[:2] == ["reason", "code"]:
                in_table = True
                continue
            if not in_table or set(cells[0]) <= set("-: "):
                continue
            reason = re.fullmatch(r"`([a-z_]+)`", cells[0])
            code = re.fullmatch(r"-\d+", cells[1])
            if reason is None or code is None:
                raise AssertionError(f"unreadable row in errors.md: {line}")
            rows.append((reason.group(1), int(code.group(0))))
    return rows


class ErrorsTableTests(unittest.TestCase):
    def test_reasons_equal_errors_md(self):
        table = table_of_errors_md()
        self.assertGreater(len(table), 20, "the table was not found in proto/errors.md")
        self.assertEqual(len({reason for reason, _ in table}), len(table), "a reason twice in errors.md")
        self.assertEqual(list(errors.REASONS.items()), table)
        self.assertIs(credsd.REASONS, errors.REASONS)

    def test_each_reason_has_its_constant(self):
        for reason, code in table_of_errors_md():
            self.assertEqual(getattr(errors, reason.upper()), reason)
            self.assertEqual(credsd.CredsdError(reason).code, code)
        # and no constant names a reason the table does not have
        constants = {value for name, value in vars(errors).items()
                     if name.isupper() and isinstance(value, str) and name == value.upper()}
        self.assertEqual(constants - set(errors.CLIENT_REASONS), set(errors.REASONS))

    def test_client_reasons_are_not_daemon_reasons(self):
        self.assertFalse(set(errors.CLIENT_REASONS) & set(errors.REASONS))
        for reason in errors.CLIENT_REASONS:
            self.assertIsNone(credsd.CredsdError(reason).code)


if __name__ == "__main__":
    unittest.main()
