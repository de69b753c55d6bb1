"""tqdm progress bars on stderr, one per scenario."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm


class Progress:
    def __init__(self, scenario: str) -> None:
        self.bar = tqdm(desc=scenario, total=0, file=sys.stderr, leave=True, dynamic_ncols=True,
                        mininterval=0.5, unit="run")  # fmt: skip

    def total(self, n: int) -> None:
        self.bar.total = n
        self.bar.refresh()

    def add(self, n: int) -> None:
        self.bar.total = (self.bar.total or 0) + n
        self.bar.refresh()

    def step(self, what: str) -> None:
        self.bar.set_postfix_str(what, refresh=False)
        self.bar.update(1)

    def note(self, text: str) -> None:
        self.bar.write(text, file=sys.stderr)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.bar.close()
