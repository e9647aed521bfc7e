"""Tables that fit the terminal: columns are left out by priority, never truncated to "sub…".

``fitted_table`` keeps every column whose cells fit in ``width`` (80 by default when the output
is not a terminal), dropping the lowest-priority columns first, and says in the caption which it
left out and that ``--wide`` shows them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

# rich's default box: one space of padding either side plus a border per column, and one more.
_PER_COLUMN = 3


@dataclass(frozen=True)
class Column:
    header: str
    priority: int = 0  # higher is kept longer; the first column should be the highest
    justify: str = "right"


def needed_width(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> int:
    return 1 + sum(
        max([len(c.header), *(len(r[i]) for r in rows)]) + _PER_COLUMN
        for i, c in enumerate(columns))


def kept_columns(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int
                 ) -> list[int]:
    """Indices of the columns to show: all that fit, dropping the lowest priority (the
    rightmost among equals) first; the first column always stays."""
    kept = list(range(len(columns)))
    drop_order = sorted(kept[1:], key=lambda i: (columns[i].priority, -i))
    while needed_width([columns[i] for i in kept], [[r[i] for i in kept] for r in rows]) > width \
            and drop_order:
        kept.remove(drop_order.pop(0))
    return kept


def fitted_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], *,
                 width: int, wide: bool = False, bold_last: bool = False) -> Table:
    kept = list(range(len(columns))) if wide else kept_columns(columns, rows, width)
    left_out = [columns[i].header for i in range(len(columns)) if i not in kept]
    caption = (f"left out to fit {width} columns: {', '.join(left_out)} (--wide shows all)"
               if left_out else None)
    table = Table(title=title, caption=caption)
    for i in kept:
        table.add_column(columns[i].header, justify=columns[i].justify,  # type: ignore[arg-type]  # one of rich's justify names
                         no_wrap=True)
    for n, row in enumerate(rows):
        if bold_last and n == len(rows) - 1:
            table.add_section()
        table.add_row(*(row[i] for i in kept),
                      style="bold" if bold_last and n == len(rows) - 1 else None)
    return table
