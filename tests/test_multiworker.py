"""Multi-worker training on TensorFlow's own engine: two worker processes on loopback, each
with its own TF_CONFIG, as on two machines (issue 18)."""

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import TINY, write_pairs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_ARGS = ["--widths", *map(str, TINY["widths"]), "--blocks", *map(str, TINY["blocks"]),
             "--decoder-widths", *map(str, TINY["decoder_widths"])]
TIMEOUT = 900  # generous: a busy 2-core machine runs both workers and their collectives


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture
def tiny_data(tmp_path):
    return write_pairs(tmp_path / "data", 12, 80, 64)


def _start_workers(data, out, epochs, resume=False, steps=3):
    """Two workers; their output goes to files (two pipes read one after the other could fill
    and block a worker that the other waits for)."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
        command = [sys.executable, "-m", "trainer.train", "--data", str(data), "--out", str(out),
                   "--strategy", "multiworker", "--size", "64", "--batch", "8",
                   "--steps-per-epoch", str(steps), "--epochs", str(epochs), "--verbose", "0",
                   "--lr", "1e-2", *TINY_ARGS, *(["--resume"] if resume else [])]
        log = open(out.parent / f"worker-{index}-{'resume' if resume else 'start'}.log", "w+")
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        proc.log = log
        procs.append(proc)
    return procs


def _stop(procs):
    for proc in procs:
        proc.kill()
        proc.wait()
        proc.log.close()


def _output(proc):
    proc.log.seek(0)
    return proc.log.read()


def _finish(procs):
    try:
        for proc in procs:
            proc.wait(timeout=TIMEOUT)
        outputs = [_output(proc) for proc in procs]
    finally:
        _stop(procs)
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
    return outputs


def _epochs(out):
    with open(out / "log.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_two_workers_train_one_model_and_only_the_chief_writes(tiny_data, tmp_path):
    out = tmp_path / "run"
    chief_log, worker_log = _finish(_start_workers(tiny_data, out, epochs=1))
    # one synchronous model: the same weights on both workers at the end
    digests = [re.search(r"final weights checksum (\w+)", log).group(1) for log in (chief_log, worker_log)]
    assert digests[0] == digests[1], (chief_log[-2000:], worker_log[-2000:])
    # the global batch of 8 is split: each worker computes on 4 a step
    for log, index in ((chief_log, 0), (worker_log, 1)):
        assert re.search(rf"worker {index} of 2.*global batch 8, 4 per replica here, 2 replicas in all", log), log[-2000:]
    assert "(chief)" in chief_log and "(chief)" not in worker_log
    # only the chief's files are in the run folder; the other worker kept only its backup
    names = sorted(os.listdir(out))
    assert names == ["backup", "backup-worker-1", "best.keras", "final.keras", "likeunet-rgb.keras",
                     "likeunet-rgb.tflite", "log.csv", "tensorboard"], names
    assert _epochs(out) == [0]


@pytest.mark.slow
def test_an_interrupted_multiworker_run_resumes_at_the_next_epoch(tiny_data, tmp_path):
    out = tmp_path / "run"
    procs = _start_workers(tiny_data, out, epochs=30, steps=2)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (out / "log.csv").is_file() or not _epochs(out):
            assert all(p.poll() is None for p in procs), [_output(p)[-2000:] for p in procs]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        for proc in procs:  # as a machine's power cut would: no chance to clean up
            proc.send_signal(signal.SIGKILL)
    finally:
        _stop(procs)
    done = _epochs(out)
    assert done and done == list(range(len(done)))
    _finish(_start_workers(tiny_data, out, epochs=len(done) + 1, resume=True, steps=2))
    assert _epochs(out) == list(range(len(done) + 1))  # the next epoch, not the first again
