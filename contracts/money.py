"""Amounts as people read them (messages, summaries, the replay's violations); amounts on the
wire are integer øre, never this."""

from __future__ import annotations


def format_dkk(oere: int) -> str:
    """``1,500,000.00 DKK`` — for messages and summaries, never for computation."""
    sign = "-" if oere < 0 else ""
    whole, cents = divmod(abs(oere), 100)
    return f"{sign}{whole:,}.{cents:02d} DKK"
