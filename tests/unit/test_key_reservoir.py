"""`KeyReservoir`: keys made ahead of time by a background thread, each handed out once,
and made on the spot when none is ready (so a burst of pools never waits for the thread)."""

from __future__ import annotations

import threading
import time

from authflow.crypto.keys import KeyReservoir, private_key


def test_keys_are_fresh_valid_and_never_handed_out_twice():
    reservoir = KeyReservoir(size=2)
    keys = [reservoir() for _ in range(6)]
    assert len(set(keys)) == 6
    assert all(private_key(k).key_size == 2048 for k in keys)


def test_ready_keys_come_from_the_thread_and_an_empty_reservoir_makes_one_on_the_spot():
    made_by: list[str] = []
    counter = iter(range(10_000))

    def make() -> bytes:
        made_by.append(threading.current_thread().name)
        return str(next(counter)).encode()

    reservoir = KeyReservoir(size=3, make=make)
    first = reservoir()  # the thread has only just started: made here
    deadline = time.monotonic() + 5
    while reservoir._ready.qsize() < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reservoir._ready.qsize() == 3  # filled up to its size, then the thread waits
    ready = [reservoir() for _ in range(3)]
    assert len({first, *ready}) == 4
    assert "authflow-key-reservoir" in made_by
