"""A second stocks feed for the page benchmark (bench/page.py): 50 symbols at 20 Hz, under a name of its own.

The server runs each feed class once, under its name, so a second stocks panel needs a class of its own: this one
is the built-in ``stocks`` simulation with other defaults. Load it with ``--feed bench/plugins/stocks50.py``.
"""

from __future__ import annotations

from feeds.feed import Option
from feeds.stocks import StocksFeed, parse_symbols

__all__ = ["SYMBOLS", "Stocks50Feed"]

# Fifty distinct tickers, as many as a stocks feed takes.
SYMBOLS = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "AVGO", "ORCL", "AMD",
    "NFLX", "ADBE", "CRM", "INTC", "CSCO", "QCOM", "TXN", "IBM", "NOW", "UBER",
    "JPM", "BAC", "WFC", "GS", "MS", "C", "V", "MA", "PYPL", "AXP",
    "JNJ", "PFE", "MRK", "ABBV", "LLY", "UNH", "CVS", "TMO", "ABT", "DHR",
    "XOM", "CVX", "COP", "KO", "PEP", "WMT", "COST", "HD", "NKE", "DIS",
)  # fmt: skip


class Stocks50Feed(StocksFeed):
    """The stocks simulation with 50 symbols, a tick every 0.05 s (20 Hz): a wide, busy panel."""

    name = "stocks50"
    description = "Simulated trades of 50 symbols at 20 Hz, for the page benchmark."
    interval = 0.05

    symbols = Option(SYMBOLS, "comma-separated ticker symbols", parse=parse_symbols)
