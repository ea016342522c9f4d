#!/usr/bin/env python3
"""NIR round trips against the frameworks themselves, both ways, as a user would make them.

Theirs → ours: each framework builds a small network with its own neurons and seeded weights,
exports it with its own NIR exporter (at its default time step), and simulates it itself on
Fashion-MNIST test images (the image as input current at every step); `snnsim run X.nir --dt D`
runs the file. Ours → theirs: the toolkit converts its shipped networks with `--dynamics if
--reset zero --initial-membrane 0` (with and without `--leak`), `snnconv export` writes them (portable form), each
framework's importer loads the file, and its simulation is compared with `snnsim run X.nir`.

Needs the frameworks, which pull in torch (a few GB; not a test dependency), in a virtual
environment of their own, and the toolkit's release build:

    python3 -m venv .build/nir-venv
    .build/nir-venv/bin/pip install torch snntorch norse spikingjelly nir nirtorch h5py
    .build/nir-venv/bin/python tools/nir_interop.py [OUT_DIR]

Writes the graphs and data into OUT_DIR (default .build/nir-interop) and prints one Markdown
table row per framework, direction and graph: how many images' readouts (the Output node's
input summed over the steps) are equal, how many have the same arg-max, and the largest
difference relative to the largest readout; or the error the framework raised. docs/nir.md's
table is copied from this output.
"""

import gzip
import os
import subprocess
import sys
import traceback

import nir
import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "nir-interop"))
IMAGES = 200
STEPS = 32


def fashion_mnist():
    for base in ["/usr/share/datasets/fashion-mnist", "/usr/share/dataset-fashion-mnist"]:
        path = os.path.join(base, "t10k-images-idx3-ubyte.gz")
        if os.path.exists(path):
            with gzip.open(path) as f:
                x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
            with gzip.open(os.path.join(base, "t10k-labels-idx1-ubyte.gz")) as f:
                y = np.frombuffer(f.read(), np.uint8, offset=8)
            return x[:IMAGES].astype(np.float32) / 255, y[:IMAGES].astype(np.int64)
    raise SystemExit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")


def tools():
    subprocess.run(["swift", "build", "-c", "release"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    return os.path.join(path, "snnconv"), os.path.join(path, "snnsim")


def snnsim_readout(snnsim, graph_path, data_path, dt=None):
    csv = graph_path + ".readout.csv"
    command = [snnsim, "run", graph_path, "--data", data_path, "--timesteps", str(STEPS), "--outputs", csv]
    if dt is not None:
        command += ["--dt", repr(dt)]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"snnsim: {run.stderr.strip().splitlines()[-1]}")
    return np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64).reshape(IMAGES, -1)


def compare(ours, theirs):
    theirs = np.asarray(theirs, np.float64).reshape(ours.shape)
    equal = np.all(ours == theirs, axis=1).mean()
    # Within 10⁻³ of the image's largest readout.
    close = np.all(np.abs(ours - theirs) <= 1e-3 * np.abs(ours).max(axis=1, keepdims=True), axis=1).mean()
    same = (ours.argmax(1) == theirs.argmax(1)).mean()
    scale = max(np.abs(ours).max(), np.abs(theirs).max(), 1e-30)
    return (f"{equal * 100:.1f} %", f"{close * 100:.1f} %", f"{same * 100:.1f} %",
            f"{np.abs(ours - theirs).max() / scale:.1e}", f"{np.abs(theirs).sum(1).mean():.1f}")


def row(framework, direction, graph, result):
    if isinstance(result, str):
        print(f"| {framework} | {direction} | {graph} | – | – | – | – | – | {result} |", flush=True)
    else:
        print(f"| {framework} | {direction} | {graph} | " + " | ".join(result) + " | |", flush=True)


def attempt(framework, direction, graph, work):
    """Runs `work`, which returns one result or several as (label suffix, result) pairs."""
    try:
        results = work()
        for suffix, result in results if isinstance(results, list) else [("", results)]:
            row(framework, direction, graph + suffix, result)
    except Exception as error:  # a framework that refuses or crashes is a result too
        message = f"{type(error).__name__}: {error}".splitlines()[0][:160]
        row(framework, direction, graph, message.replace("|", "/"))
        if os.environ.get("NIR_INTEROP_DEBUG"):
            traceback.print_exc()


def seeded(module, seed, gain=1.0):
    """Seeded uniform weights and biases for the Linear and Conv2d layers (neuron parameters
    untouched), scaled by 1/√fan-in and `gain` so that the neurons fire."""
    torch.manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
            fan_in = int(np.prod(layer.weight.shape[1:]))
            with torch.no_grad():
                layer.weight.uniform_(-gain, gain).mul_(fan_in ** -0.5)
                if layer.bias is not None:
                    layer.bias.uniform_(-gain, gain).mul_(fan_in ** -0.5)
    return module


# --- Theirs → ours -----------------------------------------------------------------------------

def snntorch_exports(x, snnsim, data_flat):
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    for name, beta in [("Leaky MLP, β = 0.9", 0.9), ("Leaky MLP, β = 1", 1.0)]:
        def work():
            torch.manual_seed(1)
            # β and threshold per neuron: with single values (snnTorch's own docstring example)
            # the export fails nir 1.0.8's type inference, the LIF's parameters having no shape.
            net = torch.nn.Sequential(
                torch.nn.Flatten(),
                torch.nn.Linear(784, 128),
                snn.Leaky(beta=torch.full((128,), beta), threshold=torch.ones(128), init_hidden=True,
                          reset_mechanism="zero"),
                torch.nn.Linear(128, 10),
                snn.Leaky(beta=torch.full((10,), beta), threshold=torch.ones(10), init_hidden=True,
                          reset_mechanism="zero", output=True))
            seeded(net, 1, gain=3.0)
            path = os.path.join(OUT, f"snntorch-leaky-{beta}.nir")
            # ignore_dims=[0]: without it the Output node keeps the sample's batch axis (1×10)
            # and nir 1.0.8's type inference refuses the graph.
            graph = export_to_nir(net, torch.randn(1, 784), ignore_dims=[0])
            nir.write(path, graph)
            flat = torch.tensor(x.reshape(IMAGES, 784))
            with torch.no_grad():
                for module in net.modules():
                    if isinstance(module, snn.Leaky):
                        module.reset_hidden()
                total = 0
                for _ in range(STEPS):
                    spikes, _ = net(flat)
                    total = total + spikes.numpy()
            return [(", --dt 1e-4", compare(snnsim_readout(snnsim, path, data_flat, dt=1e-4), total)),
                    (", dt = 1 (the step before --dt)", compare(snnsim_readout(snnsim, path, data_flat), total))]
        attempt("snnTorch 1.0.0", "theirs → ours", name, work)

    def recurrent():
        # RLeaky: all-to-all recurrent weights, exported as an LIF and an Affine feeding it back.
        torch.manual_seed(2)
        net = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(784, 64),
            snn.RLeaky(beta=torch.full((64,), 0.9), threshold=torch.ones(64), linear_features=64, all_to_all=True,
                       init_hidden=True, reset_mechanism="zero"),
            torch.nn.Linear(64, 10),
            snn.Leaky(beta=torch.full((10,), 0.9), threshold=torch.ones(10), init_hidden=True,
                      reset_mechanism="zero", output=True))
        seeded(net, 2, gain=3.0)
        path = os.path.join(OUT, "snntorch-rleaky.nir")
        nir.write(path, export_to_nir(net, torch.randn(1, 784), ignore_dims=[0]))
        flat = torch.tensor(x.reshape(IMAGES, 784))
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, (snn.Leaky, snn.RLeaky)):
                    module.reset_hidden()
            total = 0
            for _ in range(STEPS):
                spikes, _ = net(flat)
                total = total + spikes.numpy()
            # The same weights with the recurrent term fed to snnTorch's Leaky, whose reset to
            # zero is NIR's LIF (RLeaky's own reset zeroes the whole next update instead).
            rleaky = net[2]
            cell = snn.Leaky(beta=torch.full((64,), 0.9), threshold=torch.ones(64), reset_mechanism="zero")
            out = snn.Leaky(beta=torch.full((10,), 0.9), threshold=torch.ones(10), reset_mechanism="zero")
            mem, mem_out = cell.init_leaky(), out.init_leaky()
            previous, leaky_total = torch.zeros(IMAGES, 64), 0
            for _ in range(STEPS):
                spk, mem = cell(net[1](flat) + rleaky.recurrent(previous), mem)
                spk_out, mem_out = out(net[3](spk), mem_out)
                previous = spk
                leaky_total = leaky_total + spk_out.numpy()
        ours = snnsim_readout(snnsim, path, data_flat, dt=1e-4)
        return [(" — snnTorch's RLeaky", compare(ours, total)),
                (" — the same weights on snnTorch's Leaky with the recurrent input", compare(ours, leaky_total))]
    attempt("snnTorch 1.0.0", "theirs → ours", "RLeaky (recurrent) MLP, β = 0.9, --dt 1e-4", recurrent)


def spikingjelly_exports(x, snnsim, data_flat, data_image):
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir

    def mlp(cell):
        return torch.nn.Sequential(layer.Flatten(), layer.Linear(784, 128), cell(), layer.Linear(128, 10), cell())

    cases = [
        ("IF MLP", lambda: mlp(lambda: neuron.IFNode(v_reset=0.0)), data_flat, 3.0),
        ("LIF MLP (τ = 2)", lambda: mlp(lambda: neuron.LIFNode(tau=2.0, v_reset=0.0)), data_flat, 8.0),
        ("CubaLIF MLP", lambda: mlp(lambda: neuron.CUBALIFNode(c_decay=0.5, v_decay=0.75, v_reset=0.0)),
         data_flat, 3.0),
        ("IF CNN with average pooling", lambda: torch.nn.Sequential(
            layer.Conv2d(1, 8, 3, padding=1), neuron.IFNode(v_reset=0.0), layer.AvgPool2d(2),
            layer.Conv2d(8, 16, 3, padding=1), neuron.IFNode(v_reset=0.0), layer.AvgPool2d(2),
            layer.Flatten(), layer.Linear(16 * 7 * 7, 10), neuron.IFNode(v_reset=0.0)), data_image, 3.0),
    ]
    for name, build, data, gain in cases:
        def work():
            net = seeded(build(), 2, gain=gain)
            example = torch.zeros(1, 1, 28, 28)
            path = os.path.join(OUT, "spikingjelly-" + name.split(" (")[0].replace(" ", "-").lower() + ".nir")
            nir.write(path, export_to_nir(net, example))
            images = torch.tensor(x)
            with torch.no_grad():
                functional.reset_net(net)
                total = 0
                for _ in range(STEPS):
                    total = total + net(images).numpy()
            return [(", --dt 1e-4", compare(snnsim_readout(snnsim, path, data, dt=1e-4), total)),
                    (", dt = 1 (the step before --dt)", compare(snnsim_readout(snnsim, path, data), total))]
        attempt("SpikingJelly 2.0.0", "theirs → ours", name, work)


# --- Ours → theirs -----------------------------------------------------------------------------

def our_exports(snnconv, data_train):
    graphs = []
    for model, options, label in [
        ("mlp", [], "MLP"),
        ("mlp", ["--leak", "16"], "MLP, leaky (τ = 16)"),
        ("bench-cnn", [], "CNN with average pooling"),
        ("cnn", [], "CNN with max pooling (decomposed into IF neurons)"),
    ]:
        suffix = "-leak" if options else ""
        network = os.path.join(OUT, f"ours-{model}{suffix}.snn.h5")
        graph = os.path.join(OUT, f"ours-{model}{suffix}.nir")
        subprocess.run([snnconv, "convert", os.path.join(ROOT, "models", model + ".h5"), "--dynamics", "if",
                        "--reset", "zero", "--initial-membrane", "0", "--calibration", "1000", "-o", network] + options, check=True,
                       capture_output=True)
        subprocess.run([snnconv, "export", network, "-o", graph], check=True, capture_output=True)
        graphs.append((label, graph))
    return graphs


def into_spikingjelly(graphs, x, snnsim, data_image):
    from spikingjelly.activation_based.nir_exchange.from_nir import import_from_nir

    for label, path in graphs:
        def work():
            module = import_from_nir(nir.read(path), dt=1.0)
            images = torch.tensor(x)
            with torch.no_grad():
                state, total = None, 0
                for _ in range(STEPS):
                    y, state = module(images, state)
                    total = total + y.numpy()
            return compare(snnsim_readout(snnsim, path, data_image), total)
        attempt("SpikingJelly 2.0.0", "ours → theirs", label, work)


def into_norse(graphs, x, snnsim, data_image):
    import norse.torch

    for label, path in graphs:
        def work():
            module = norse.torch.from_nir(nir.read(path), dt=1.0)
            rows = []
            with torch.no_grad():
                # Norse's Flatten(0, −1) flattens the batch too: one image at a time.
                for image in x:
                    state, total = None, 0
                    for _ in range(STEPS):
                        y, state = module(torch.tensor(image[None]), state)
                        total = total + y.numpy().reshape(-1)
                    rows.append(total)
            return compare(snnsim_readout(snnsim, path, data_image), np.stack(rows))
        attempt("Norse 1.1.0", "ours → theirs", label, work)


def into_snntorch(graphs, x, snnsim, data_image):
    import snntorch as snn
    from snntorch.import_nir import import_from_nir

    for label, path in graphs:
        def work():
            module = import_from_nir(nir.read(path))
            rows = []
            with torch.no_grad():
                # Its Flatten(0, −1) flattens the batch too: one image at a time.
                for image in x:
                    for m in module.modules():
                        if isinstance(m, snn.SpikingNeuron) and hasattr(m, "reset_hidden"):
                            m.reset_hidden()
                    total = 0
                    for _ in range(STEPS):
                        y = module(torch.tensor(image[None]))
                        y = y[0] if isinstance(y, tuple) else y
                        total = total + y.numpy().reshape(-1)
                    rows.append(total)
            return compare(snnsim_readout(snnsim, path, data_image), np.stack(rows))
        attempt("snnTorch 1.0.0", "ours → theirs", label, work)


def main():
    os.makedirs(OUT, exist_ok=True)
    snnconv, snnsim = tools()
    x, y = fashion_mnist()
    data_image = os.path.join(OUT, "test.npz")
    data_flat = os.path.join(OUT, "test-flat.npz")
    np.savez(data_image, x=x, y=y)
    np.savez(data_flat, x=x.reshape(IMAGES, 784), y=y)
    print(f"{IMAGES} Fashion-MNIST test images, {STEPS} steps; readouts summed over the steps\n")
    print("| framework | direction | graph | readouts equal | within 10⁻³ | same arg-max "
          "| largest difference / largest readout | mean total readout | error |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    snntorch_exports(x, snnsim, data_flat)
    spikingjelly_exports(x, snnsim, data_flat, data_image)
    graphs = our_exports(snnconv, data_image)
    into_spikingjelly(graphs, x, snnsim, data_image)
    into_norse(graphs, x, snnsim, data_image)
    into_snntorch(graphs, x, snnsim, data_image)


if __name__ == "__main__":
    main()
