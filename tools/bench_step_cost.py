#!/usr/bin/env python3
"""What one simulated time step costs next to one forward pass of the network's ANN.

For each zoo network (models/zoo/, default signGD conversion from 1,000 training images) this
runs `snnsim run --json` on the first IMAGES test images for T = STEPS, batch 100, on one and on
two threads, and reads the record's `step_cost`: the simulator times the ANN's forward pass it
measures every batch against and the steps themselves, on the same images and threads. Beside it,
as a check that the toolkit's own ANN pass is not a slow yardstick, Keras 3 (JAX backend, XLA on
the CPU) predicts the same images in batches of 100 on one and on two cores. Times are
milliseconds of one core per image: the simulator's are summed over its worker threads, Keras's
wall-clock time is multiplied by the cores it ran on. Rounds alternate the
runs and wait for an idle machine before each; prints each round and a Markdown table of medians
(docs/benchmarks.md, "What a time step costs").

    python3 tools/bench_step_cost.py [--rounds 3] [--images 1000] [--steps 64] [MODEL ...]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, ".build", "zoo-data")

KERAS_FORWARD = r"""
import os, sys, time
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
model = keras.models.load_model(sys.argv[1], compile=False)
x = np.load(sys.argv[2])[: int(sys.argv[3])].astype("float32")
model.predict(x[:100], batch_size=100, verbose=0)  # compile first
start = time.perf_counter()
model.predict(x, batch_size=100, verbose=0)
print((time.perf_counter() - start) / len(x) * 1000)
"""


def wait_idle():
    """Waits (at most five minutes) until other work uses under 10 % of the CPUs over a second."""
    for _ in range(300):
        with open("/proc/stat") as f:
            a = [int(v) for v in f.readline().split()[1:6]]
        time.sleep(1)
        with open("/proc/stat") as f:
            b = [int(v) for v in f.readline().split()[1:6]]
        busy = (b[0] + b[1] + b[2]) - (a[0] + a[1] + a[2])
        idle = (b[3] + b[4]) - (a[3] + a[4])
        if busy * 10 < busy + idle:
            return
    print("machine still busy after 5 minutes; measuring anyway", file=sys.stderr)


def binaries():
    for product in ("snnconv", "snnsim"):
        subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    return os.path.join(path, "snnconv"), os.path.join(path, "snnsim")


def simulate(snnsim, network, images, steps, threads):
    out = subprocess.run(
        [snnsim, "run", network, "--data", f"{DATA}/test-x.npy,{DATA}/test-y.npy", "--limit", str(images),
         "--timesteps", str(steps), "--batch-size", "100", "--threads", str(threads), "--no-raster", "--json"],
        check=True, capture_output=True, text=True).stdout
    cost = json.loads(out)["step_cost"]
    ann = cost["ann_forward_seconds"] / cost["images"] * 1000
    step = cost["step_seconds"] / cost["steps"] / cost["images"] * 1000
    return ann, step


def keras_forward(model, images, cores):
    env = dict(os.environ)
    command = [sys.executable, "-c", KERAS_FORWARD, model, f"{DATA}/test-x.npy", str(images)]
    if cores == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
        command = ["taskset", "-c", "0"] + command
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return float(out.strip().splitlines()[-1]) * cores


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras forward passes")
    parser.add_argument("models", nargs="*", default=["vgg11-bn", "vgg13-relu-bn", "resnet20", "cifar-cnn", "mobilenet"])
    args = parser.parse_args()
    if not os.path.exists(f"{DATA}/test-x.npy"):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_zoo.py"), "data", DATA], check=True)
    snnconv, snnsim = binaries()
    work = tempfile.mkdtemp()
    networks = {}
    for model in args.models:
        networks[model] = os.path.join(work, model + ".snn.h5")
        subprocess.run([snnconv, "convert", os.path.join(ROOT, "models", "zoo", model + ".h5"),
                        "--data", f"{DATA}/train-x.npy,{DATA}/train-y.npy", "-o", networks[model]],
                       check=True, capture_output=True)
    rows = {(m, t): {"ann": [], "step": [], "ratio": [], "keras": []} for m in args.models for t in (1, 2)}
    for round_ in range(1, args.rounds + 1):
        for model in args.models:
            # Alternate the order of the two sides from round to round.
            for threads in ((1, 2) if round_ % 2 else (2, 1)):
                row = rows[(model, threads)]
                sides = ("snn", "keras") if round_ % 2 else ("keras", "snn")
                for side in sides:
                    if side == "keras" and args.no_keras:
                        continue
                    wait_idle()
                    if side == "snn":
                        ann, step = simulate(snnsim, networks[model], args.images, args.steps, threads)
                        row["ann"].append(ann)
                        row["step"].append(step)
                        row["ratio"].append(step / ann)
                    else:
                        row["keras"].append(keras_forward(os.path.join(ROOT, "models", "zoo", model + ".h5"),
                                                          args.images, threads))
                print(f"round {round_} {model} threads {threads}: "
                      + ", ".join(f"{k} {v[-1]:.3f}" for k, v in row.items() if v), flush=True)
    print()
    print("Milliseconds of one core per image: the toolkit's times are summed over its worker threads, Keras's "
          "wall-clock time is multiplied by the cores it ran on.")
    print()
    print("| network | threads | ANN forward, toolkit (ms/image) | ANN forward, Keras 3 + XLA (ms/image) "
          "| step (ms/image) | step / toolkit's forward (paired, median) | step / Keras forward |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (model, threads), row in rows.items():
        ann, step = statistics.median(row["ann"]), statistics.median(row["step"])
        keras = f"{statistics.median(row['keras']):.3f}" if row["keras"] else "—"
        versus = f"{step / statistics.median(row['keras']):.2f}" if row["keras"] else "—"
        print(f"| {model} | {threads} | {ann:.3f} | {keras} | {step:.3f} | "
              f"**{statistics.median(row['ratio']):.2f}** | {versus} |")


if __name__ == "__main__":
    main()
