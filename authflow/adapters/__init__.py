"""Adapters: implementations of the ports (stores, clocks, entropy, messengers, triggers)."""

from authflow.adapters.clocks import ManualClock, OffsetClock, SystemClock
from authflow.adapters.entropy import SeededEntropy, SystemEntropy
from authflow.adapters.memory import MemoryStore
from authflow.adapters.outbox import LogMessenger, MemoryOutbox
from authflow.adapters.postgres import PostgresStore  # psycopg is imported only when one is made
from authflow.adapters.sqlite import SqliteStore
from authflow.adapters.triggers import CallableTriggers, NoTriggers

__all__ = [
    "CallableTriggers",
    "LogMessenger",
    "ManualClock",
    "MemoryOutbox",
    "MemoryStore",
    "NoTriggers",
    "OffsetClock",
    "PostgresStore",
    "SeededEntropy",
    "SqliteStore",
    "SystemClock",
    "SystemEntropy",
]
