import threading
import time

from humanmatting_gui.latest import LatestSlot


def test_newest_item_wins_and_stale_ones_are_counted():
    slot = LatestSlot()
    for k in range(5):
        slot.put(k)
    assert slot.get(0) == 4
    assert slot.dropped == 4
    assert slot.get(0.01) is None


def test_get_waits_for_a_producer():
    slot = LatestSlot()
    threading.Timer(0.05, slot.put, args=("frame",)).start()
    assert slot.get(2.0) == "frame"


def test_close_wakes_a_waiting_consumer():
    slot = LatestSlot()
    got = []
    consumer = threading.Thread(target=lambda: got.append(slot.get(10.0)))
    consumer.start()
    time.sleep(0.05)
    slot.close()
    consumer.join(2.0)
    assert not consumer.is_alive() and got == [None]


def test_slow_consumer_sees_only_recent_items():
    slot = LatestSlot()
    seen = []
    stop = threading.Event()

    def produce():
        k = 0
        while not stop.is_set():
            slot.put(k)
            k += 1
            time.sleep(0.001)

    producer = threading.Thread(target=produce)
    producer.start()
    for _ in range(5):
        item = slot.get(1.0)
        seen.append(item)
        time.sleep(0.02)  # a worker slower than the source
    stop.set()
    producer.join()
    assert slot.dropped > 0
    assert all(b - a > 1 for a, b in zip(seen, seen[1:]))  # it skipped stale frames


def test_a_deeper_slot_keeps_a_late_frame_and_drops_the_oldest_beyond_it():
    slot = LatestSlot(depth=2)
    slot.put(1)
    slot.put(2)  # the consumer is one frame late: both kept
    assert slot.dropped == 0 and slot.get(0) == 1 and slot.get(0) == 2
    for k in range(3, 7):
        slot.put(k)
    assert slot.dropped == 2 and [slot.get(0), slot.get(0)] == [5, 6]
    assert slot.get(0.01) is None
