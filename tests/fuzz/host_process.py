"""The local Functions host (``python -m tools.localhost``) with every log record of the app
written to stderr, ``extra`` fields included, so a fuzz run can prove that no record
carries a value. Run by the fuzz fixtures as a child process; not a host of its own."""

from __future__ import annotations

import logging
import sys

from tools.localhost.__main__ import main

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))


class EverythingFormatter(logging.Formatter):
    """The message, then every ``extra`` field the record carries (custom dimensions)."""

    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        return f"{super().format(record)} {extra!r}" if extra else super().format(record)


if __name__ == "__main__":
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EverythingFormatter("%(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])
    sys.exit(main(sys.argv[1:]))
