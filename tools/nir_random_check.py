#!/usr/bin/env python3
"""Random NIR graphs, written with the `nir` package's API, run by `snnsim run` and by the
independent reference (tools/nir_reference.py): every spiking node's spike count and the summed
readout must agree. A differential check of how the toolkit lowers NIR graphs onto its engine
(docs/nir.md, "How a graph runs") over shapes no hand-written test chose.

    python3 tools/nir_random_check.py SNNSIM [GRAPHS] [SEED]

SNNSIM is the `snnsim` binary (e.g. .build/release/snnsim). Each graph: a C×H×W input, two or
three blocks of a Conv2d (kernel 1–3, stride 1–2, padding a number or 'same', dilation 1–2,
groups dividing the channels) and a neuron node (IF, LIF, CubaLIF, Threshold), each block
sometimes followed by a SumPool2d or AvgPool2d (padding 0 or 1) or a Scale per element,
sometimes a skip edge from the block before added in, sometimes the neurons' output fed back to
them through a Scale (a recurrent edge); then Flatten, Affine and an LI or I into the Output. Prints one line per graph and exits non-zero when one disagrees.
"""
import json
import os
import subprocess
import sys
import tempfile

import nir
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nir_reference  # noqa: E402

F = np.float32


def conv_output(size, kernel, stride, padding, dilation):
    span = dilation * (kernel - 1) + 1
    if padding == "same":
        return size
    return (size + 2 * padding - span) // stride + 1


def neuron(rng, shape):
    kind = rng.choice(["IF", "LIF", "CubaLIF", "Threshold"])
    threshold = rng.uniform(0.2, 0.8, shape).astype(F)
    if kind == "IF":
        return nir.IF(r=np.full(shape, rng.uniform(0.5, 1.5), F), v_threshold=threshold)
    if kind == "LIF":
        return nir.LIF(tau=np.full(shape, rng.uniform(2, 6), F), r=np.full(shape, 1.5, F),
                       v_leak=np.zeros(shape, F), v_threshold=threshold, v_reset=np.zeros(shape, F))
    if kind == "CubaLIF":
        return nir.CubaLIF(tau_mem=np.full(shape, 4, F), tau_syn=np.full(shape, 2, F), r=np.full(shape, 2, F),
                           v_leak=np.zeros(shape, F), v_threshold=threshold, w_in=np.full(shape, 1.5, F))
    return nir.Threshold(threshold=threshold)


def graph(rng):
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(6, 10)), int(rng.integers(6, 10))
    nodes = {"in": nir.Input(input_type={"input": np.array([c, h, w])})}
    edges = []
    last, shape = "in", (c, h, w)
    previous = None
    for b in range(int(rng.integers(2, 4))):
        cin = shape[0]
        groups = int(rng.choice([g for g in (1, 2, 3, 4) if cin % g == 0]))
        cout = groups * int(rng.integers(1, 3))
        kernel, dilation = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        stride = int(rng.integers(1, 3))
        padding = "same" if stride == 1 and rng.random() < 0.3 else int(rng.integers(0, 2))
        oh = conv_output(shape[1], kernel, stride, padding, dilation)
        ow = conv_output(shape[2], kernel, stride, padding, dilation)
        if oh < 2 or ow < 2:
            break
        name = f"conv{b}"
        nodes[name] = nir.Conv2d(
            input_shape=(shape[1], shape[2]), weight=rng.uniform(-0.8, 0.8, (cout, cin // groups, kernel, kernel)).astype(F),
            stride=stride, padding=padding, dilation=dilation, groups=groups, bias=rng.uniform(-0.1, 0.2, cout).astype(F))
        edges.append((last, name))
        shape = (cout, oh, ow)
        cell = f"n{b}"
        nodes[cell] = neuron(rng, shape)
        edges.append((name, cell))
        if previous is not None and previous[1] == shape and rng.random() < 0.5:
            edges.append((previous[0], cell))  # a skip edge added into the neurons
        if rng.random() < 0.4:
            # A recurrent edge: the neurons' output of the previous step, scaled, fed back.
            back = f"back{b}"
            nodes[back] = nir.Scale(scale=rng.uniform(-0.6, 0.6, shape).astype(F))
            edges += [(cell, back), (back, cell)]
        last = cell
        previous = (cell, shape)
        extra = rng.random()
        if extra < 0.35 and shape[1] >= 3 and shape[2] >= 3:
            k, pad = int(rng.integers(1, 3)), int(rng.integers(0, 2))
            pool = f"pool{b}"
            cls = nir.AvgPool2d if rng.random() < 0.5 else nir.SumPool2d
            nodes[pool] = cls(kernel_size=np.array([k, k]), stride=np.array([k, k]), padding=np.array([pad, pad]))
            edges.append((last, pool))
            shape = (shape[0], (shape[1] + 2 * pad - k) // k + 1, (shape[2] + 2 * pad - k) // k + 1)
            last = pool
        elif extra < 0.55:
            scale = f"scale{b}"
            nodes[scale] = nir.Scale(scale=rng.uniform(0.5, 1.5, shape).astype(F))
            edges.append((last, scale))
            last = scale
    size = int(np.prod(shape))
    nodes["flat"] = nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array(shape)})
    nodes["fc"] = nir.Affine(weight=rng.uniform(-0.5, 0.5, (5, size)).astype(F), bias=rng.uniform(-0.1, 0.1, 5).astype(F))
    nodes["li"] = (nir.LI(tau=np.full(5, 2, F), r=np.ones(5, F), v_leak=np.zeros(5, F)) if rng.random() < 0.5
                   else nir.I(r=np.full(5, 0.5, F)))
    nodes["out"] = nir.Output(output_type={"output": np.array([5])})
    edges += [(last, "flat"), ("flat", "fc"), ("fc", "li"), ("li", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), (c, h, w)


def main():
    snnsim = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        for k in range(count):
            g, shape = graph(rng)
            path = os.path.join(work, f"g{k}.nir")
            nir.write(path, g)
            images = rng.uniform(0, 1, (4,) + shape).astype(F)
            np.save(os.path.join(work, "x.npy"), images.reshape(4, -1))
            np.save(os.path.join(work, "y.npy"), np.zeros(4, np.int64))
            steps = 10
            read = nir.read(path, type_check=False)
            output, spikes = nir_reference.simulate(read, images, steps)
            run = subprocess.run(
                [snnsim, "run", path, "--data", f"{work}/x.npy,{work}/y.npy", "--timesteps", str(steps),
                 "--results", f"{work}/r.json", "--outputs", f"{work}/o.csv"], capture_output=True, text=True)
            if run.returncode != 0:
                print(f"graph {k}: snnsim failed: {run.stderr.strip()[:300]}")
                failures += 1
                continue
            record = json.load(open(f"{work}/r.json"))
            ours = {p["name"]: round(p["spikes"][-1]) for p in record["populations"]}
            theirs = {name: int(v.sum()) for name, v in spikes.items()}
            readout = np.loadtxt(f"{work}/o.csv", delimiter=",", skiprows=1, dtype=np.float64).reshape(4, -1)
            expected = output.reshape(4, -1).astype(np.float64)
            close = np.allclose(readout, expected, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(expected).max()))
            ok = ours == theirs and close
            failures += not ok
            kinds = "-".join(type(n).__name__ for n in g.nodes.values())
            print(f"graph {k}: {'ok ' if ok else 'DIFFERS'} {kinds}"
                  + ("" if ok else f"\n  spikes here {ours}\n  reference  {theirs}\n  readout largest difference "
                                   f"{np.abs(readout - expected).max():.3g}"))
    print(f"{count - failures} of {count} graphs agree")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
