"""The writer queue that file-lock and SQLite transactional share: a blocking flock."""

import subprocess
import sys
import threading
import time

from servers.json_store.strategies import FileLockJsonStore

HOLD_S = 0.5

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
print(time.time(), flush=True)  # the lock goes with the process, after this line
"""


def test_a_writer_waiting_for_the_file_lock_spends_no_cpu_and_goes_when_it_is_free(tmp_path):
    """Polling for the lock takes CPU from the holder; a blocked flock takes none."""
    FileLockJsonStore.initialize(tmp_path, reset=True, skus=1, stock=5)
    store = FileLockJsonStore(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "store.json.lock"), str(HOLD_S)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline() == "held\n"
    waited = {}

    def create():
        cpu = time.thread_time()
        waited["order"] = store.create_order("sku-1", 1, "t-1")
        waited["cpu_s"], waited["done"] = time.thread_time() - cpu, time.time()

    writer = threading.Thread(target=create)
    writer.start()
    writer.join(timeout=60)
    released = float(holder.communicate(timeout=60)[0])
    assert waited["order"][1] is True and waited["order"][0]["id"] == 1
    # It waited for the holder, and while it waited it did not run: a 0.5 ms poll costs
    # about 0.07 ms of CPU, 70 ms over HOLD_S, and more on a slower machine.
    assert waited["done"] >= released, (waited, released)
    assert waited["cpu_s"] < 0.02, waited
