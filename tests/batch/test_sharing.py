"""Tests for bokehme.batch.sharing: a model two renderings share."""

import threading
import time

from bokehme.batch.sharing import OneAtATime


class Graph:
    """Stands for a MediaPipe graph: it breaks when two callers are inside at once."""

    name = "graph"

    def __init__(self):
        self.inside = 0
        self.overlaps = 0

    def run(self, value):
        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        time.sleep(0.001)
        self.inside -= 1
        return value * 2

    def __call__(self, value):
        return self.run(value)


def test_calls_take_turns_and_attributes_pass_through():
    graph = Graph()
    shared = OneAtATime(graph)
    results = []

    def caller(offset):
        for value in range(50):
            results.append(shared.run(offset + value) + shared(offset + value))

    threads = [threading.Thread(target=caller, args=(offset,)) for offset in (0, 1000, 2000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert graph.overlaps == 0 and len(results) == 150
    assert sorted(results) == sorted(4 * (offset + v) for offset in (0, 1000, 2000) for v in range(50))
    assert shared.name == "graph"


def test_without_turns_the_stand_in_does_overlap():
    # The check above could not fail if the stand-in never noticed two callers.
    graph = Graph()
    threads = [threading.Thread(target=lambda: [graph.run(v) for v in range(50)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert graph.overlaps > 0
