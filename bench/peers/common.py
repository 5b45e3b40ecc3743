"""What every peer server shares: the command line, and the same ticks our server sends, byte for byte."""

from __future__ import annotations

import argparse
import time

from feeds.codec import Format, encode
from feeds.sequencer import new_run_id
from feeds.stocks import StocksFeed
from feeds.tick import Tick

__all__ = ["TickSource", "parse_args"]


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--interval", type=float, required=True, help="seconds between ticks")
    parser.add_argument("--symbols", required=True, help="comma-separated symbols of the stocks feed")
    return parser.parse_args()


class TickSource:
    """The ``stocks`` feed as our server runs it: a seeded sample, a run, a seq, a timestamp."""

    def __init__(self, symbols: str, interval: float) -> None:
        feed = StocksFeed.from_text_options({"symbols": symbols, "interval": str(interval), "seed": "1"})
        assert isinstance(feed, StocksFeed)
        self.feed = feed
        self.fields = tuple(field.name for field in self.feed.fields)
        self.run = new_run_id()
        self.seq = 0

    def next_tick(self) -> Tick:
        sample = self.feed.step()
        self.seq += 1
        return Tick(
            "stocks", self.run, self.seq, time.time(), self.fields, tuple(float(sample[f]) for f in self.fields)
        )

    @staticmethod
    def payload(tick: Tick, fmt: str) -> bytes:
        return encode(tick, Format(fmt))
