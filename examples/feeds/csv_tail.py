"""Follow a growing CSV file, like ``tail -f``, and chart its newest row.

    python server.py --feed examples/feeds/csv_tail.py --option csv_tail.path=readings.csv

The first line names the columns; the numeric columns of the first data row become the fields (a text column,
such as an ISO timestamp or a name, is left out). Each tick reads the lines appended since the last one and
reports the newest complete row; when nothing was appended, the last row stands. A file that shrinks (rotated or
truncated) is read again from the top.
"""

from __future__ import annotations

import csv
import os
from typing import IO

from feeds import Feed, Option


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class CsvTail(Feed):
    name = "csv_tail"
    description = "The newest row of a growing CSV file."
    interval = 1.0

    path = Option("readings.csv", "the CSV file to follow; its first line names the columns")

    def setup(self) -> None:
        self._file: IO[str] | None = None
        self._columns: list[str] = []
        self._numeric: list[int] = []
        self._partial = ""
        self._latest: dict[str, float] = {}

    def teardown(self) -> None:
        if self._file is not None:
            self._file.close()

    def sample(self) -> dict[str, float]:
        self._reopen_if_shrunk()
        if self._file is None:
            self._file = open(self.path, newline="")  # noqa: SIM115 (kept open between samples, closed in teardown)
        for row in csv.reader(self._complete_lines()):
            self._take(row)
        if not self._latest:
            raise LookupError(f"no data row in {self.path} yet")
        return self._latest

    def _reopen_if_shrunk(self) -> None:
        if self._file is not None and os.stat(self.path).st_size < self._file.tell():
            self._file.close()
            self._file = None
            self._columns, self._partial = [], ""

    def _complete_lines(self) -> list[str]:
        """The lines appended since the last call; a last line still being written waits for the next call."""
        assert self._file is not None
        text = self._partial + self._file.read()
        lines = text.split("\n")
        self._partial = lines.pop()
        return [line for line in lines if line.strip()]

    def _take(self, row: list[str]) -> None:
        if not self._columns:
            self._columns = [column.strip() for column in row]
            return
        if not self._numeric:
            self._numeric = [index for index, cell in enumerate(row) if _is_number(cell)]
        self._latest = {self._columns[index]: float(row[index]) for index in self._numeric}
