"""Batched publishing of notification sends from the web process (communities/notifications/batching.py)."""

import os
import threading
import time

from communities.notifications.batching import SendBatcher
from tests.waiting import HANG_GUARD


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, keys: list[str]) -> None:
        with self.lock:
            self.threads.add(threading.current_thread().name)
            if self.fail_first:
                self.fail_first -= 1
                raise ConnectionError("broker down")
            self.batches.append(list(keys))

    @property
    def keys(self) -> list[str]:
        return [key for batch in self.batches for key in batch]


def wait_for(condition, timeout: float = HANG_GUARD) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_without_a_window_each_commit_publishes_at_once_on_its_own_thread():
    recorder = Recorder()
    batcher = SendBatcher(recorder, lambda: 0)
    batcher.add(["a"])
    batcher.add(["b", "c"])
    assert recorder.batches == [["a"], ["b", "c"]]
    assert recorder.threads == {threading.current_thread().name}


def test_keys_from_many_threads_leave_once_each_in_fewer_tasks():
    recorder = Recorder()
    batcher = SendBatcher(recorder, lambda: 0.05)
    threads, per_thread = 16, 50

    def commit(n: int) -> None:
        for i in range(per_thread):
            batcher.add([f"t{n}-{i}"])

    workers = [threading.Thread(target=commit, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wait_for(lambda: len(recorder.keys) == threads * per_thread)
    time.sleep(0.1)  # nothing more arrives
    assert sorted(recorder.keys) == sorted(f"t{n}-{i}" for n in range(threads) for i in range(per_thread))
    assert len(recorder.batches) < threads * per_thread / 10
    assert recorder.threads == {"notification-send-batcher"}


def test_a_key_added_while_a_batch_is_being_published_goes_in_the_next():
    recorder = Recorder()
    release = threading.Event()
    first_call = threading.Event()

    def slow_publish(keys):
        first_call.set()
        release.wait(5)
        recorder(keys)

    batcher = SendBatcher(slow_publish, lambda: 0.01)
    batcher.add(["first"])
    assert first_call.wait(5)
    batcher.add(["second"])  # the thread is busy publishing "first"
    release.set()
    wait_for(lambda: recorder.keys == ["first", "second"])
    assert recorder.batches == [["first"], ["second"]]


def test_a_failed_publish_is_logged_and_the_batcher_keeps_going(caplog):
    recorder = Recorder(fail_first=1)
    batcher = SendBatcher(recorder, lambda: 0.01)
    batcher.add(["lost-to-the-sweep"])
    wait_for(lambda: "batched notification send not queued" in caplog.text)
    batcher.add(["next"])
    wait_for(lambda: recorder.keys == ["next"])


def test_flush_publishes_what_is_gathered_without_waiting():
    recorder = Recorder()
    batcher = SendBatcher(recorder, lambda: 60)
    batcher.add(["x", "y"])
    assert batcher.flush() == 2
    assert recorder.batches == [["x", "y"]]
    assert batcher.flush() == 0


def test_a_forked_child_starts_empty_and_publishes_its_own_keys(tmp_path):
    out = tmp_path / "child.txt"
    batcher = SendBatcher(lambda keys: None, lambda: 60)
    batcher.add(["parent-key"])  # still gathered when the process forks
    pid = os.fork()
    if pid == 0:  # the child: what it inherited must not be published twice
        try:
            child = Recorder()
            batcher._publish = child
            batcher.add(["child-key"])
            batcher.flush()
            out.write_text(repr(child.batches))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert out.read_text() == "[['child-key']]"
    assert batcher.flush() == 1  # the parent still holds its own key
