#!/usr/bin/env python3
"""An independent simulator of NIR graphs in numpy, with the discrete-time semantics of
docs/nir.md, for checking the toolkit's NIR export and import.

    python3 tools/nir_reference.py GRAPH.nir IMAGES.npy T OUT.json [DT]

IMAGES.npy holds the inputs in NIR's layout (N × the Input node's shape, float32). OUT.json gets
`output` (N rows: the Output node's input summed over t = 1..T, flattened) and `spikes`, for
every spiking node (IF, LIF, CubaLIF, Threshold), its total spike count over the images and steps;
`neuron_spikes` the same per neuron (N × its shape, flattened).

Semantics: steps of DT (default: the graph's metadata dt, else 1), forward Euler, every state 0
at the start, the image delivered as the input current at every step, nodes updated in
topological order within a step (no delay on feed-forward edges), several edges into one node
added (in the shape of the first where they hold as many values in other shapes). An edge
that closes a cycle — found by a depth-first walk back along the edges from each node in the
file's order, from a node still on the walk's path — brings its source's output of the previous
step (0 at the first): the nodes run in the walk's order, each reading what its sources hold. With tau' = tau/DT (rounded to float32):
  IF:   v <- v + (DT*r)*I;  s = v > v_threshold;  v <- v_reset (0 when absent) where s
  LIF:  v <- v + (v_leak - v + r*I)/tau';  then as IF
  LI:   v <- v + (v_leak - v + r*I)/tau', output v;   I: v <- v + (DT*r)*I, output v
  CubaLIF: i <- i + (w_in*I - i)/tau_syn';  v <- v + (v_leak - v + r*i)/tau_mem';  then as IF
  CubaLI:  the same without spiking, output v
A time constant of +inf (no leak; its factor r or w_in is +inf too, r = tau/dt) adds the input
instead: v <- v + I (i <- i + I).
  Threshold: s = I > threshold
Flatten counts its dimensions without the batch (as nir's type inference does); Affine and Linear
take the whole input when it holds as many values as the weight has columns, else its last axis.
A node whose metadata says reset_mode = "subtract" resets by v <- v - v_threshold instead, and
one whose metadata gives initial_membrane starts its membranes there (one value, one per channel,
or one per neuron) — the toolkit's conventions for what NIR cannot say. AvgPool2d counts padding (PyTorch's default).
Everything is float32, as the toolkit simulates.
"""
import json
import sys

import nir
import numpy as np

F = np.float32


def pair(value):
    """A NIR size parameter (one int or two) as two ints."""
    return tuple(int(v) for v in np.broadcast_to(value, 2))


def padded(x, top, bottom, left, right):
    """x (N×C×H×W) with rows of zeros above and below and columns left and right."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + top + bottom, w + left + right), dtype=F)
    out[:, :, top:top + h, left:left + w] = x
    return out


def symmetric(padding):
    ph, pw = pair(padding)
    return ph, ph, pw, pw


def conv2d(x, weight, bias, stride, padding, dilation, groups):
    """x: N×C×H×W; weight: O×(C/groups)×kh×kw; PyTorch's cross-correlation."""
    o, cg, kh, kw = weight.shape
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    if isinstance(padding, (str, bytes)):
        mode = padding.decode() if isinstance(padding, bytes) else padding
        th, tw = (dh * (kh - 1), dw * (kw - 1)) if mode == "same" else (0, 0)
        xp = padded(x, th // 2, th - th // 2, tw // 2, tw - tw // 2)
    else:
        xp = padded(x, *symmetric(padding))
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], o, oh, ow), dtype=F)
    per_group = o // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = weight[g * per_group:(g + 1) * per_group]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, g * per_group:(g + 1) * per_group] += np.einsum(
                    "nchw,oc->nohw", patch, ws[:, :, i, j]).astype(F)
    if bias is not None:
        out += np.asarray(bias, dtype=F).reshape(1, -1, 1, 1)
    return out


def pool2d(x, kernel, stride, padding, average):
    (kh, kw), (sh, sw) = pair(kernel), pair(stride)
    xp = padded(x, *symmetric(padding))
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], x.shape[1], oh, ow), dtype=F)
    for i in range(kh):
        for j in range(kw):
            out += xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    return out / F(kh * kw) if average else out


def flatten_shape(shape, start, end):
    """nir's Flatten over the dimensions of one sample."""
    rank = len(shape)
    start, end = start % rank, end % rank
    return tuple(shape[:start]) + (int(np.prod(shape[start:end + 1])),) + tuple(shape[end + 1:])


def fit(param, current):
    """A neuron or scale parameter against the input (N × shape): numpy's broadcasting, or
    reshaped when it holds one value per element."""
    param = np.asarray(param, dtype=F)
    if param.size == int(np.prod(current.shape[1:])):
        return param.reshape(current.shape[1:])
    return param


def affine(current, weight, bias):
    n = current.shape[0]
    w = weight.astype(F)
    x = current.reshape(n, -1) if int(np.prod(current.shape[1:])) == w.shape[1] else current
    y = (x @ w.T).astype(F)
    return y if bias is None else (y + bias.astype(F)).astype(F)


def metadata(node, key="reset_mode"):
    value = (getattr(node, "metadata", None) or {}).get(key)
    return value.decode() if isinstance(value, bytes) else value


def initial_membrane(node, current):
    """The membranes at the start: 0, or the node's metadata initial_membrane (one value, one per
    channel — the first axis after the batch — or one per neuron), broadcast over the batch."""
    text = metadata(node, "initial_membrane")
    if text is None:
        return np.zeros_like(current, dtype=F)
    values = np.array([float(v) for v in str(text).split(",")], dtype=F)
    shape = current.shape[1:]
    if values.size == 1:
        start = np.full(shape, values[0], dtype=F)
    elif values.size == int(np.prod(shape)):
        start = values.reshape(shape)
    else:
        start = np.broadcast_to(values.reshape((-1,) + (1,) * (len(shape) - 1)), shape)
    return np.broadcast_to(start, current.shape).astype(F)


def topological(graph):
    incoming = {name: [] for name in graph.nodes}
    for source, target in graph.edges:
        incoming[target].append(source)
    order, seen = [], set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        for source in incoming[name]:
            visit(source)
        order.append(name)

    for name in graph.nodes:
        visit(name)
    return order, incoming


def input_shape(node):
    """The shape a node's input has, from its own parameters (for a node that recurrent edges
    alone feed, before anything reached it)."""
    kind = type(node).__name__
    if kind in ("Affine", "Linear"):
        return (int(node.weight.shape[1]),)
    if kind == "Scale":
        return tuple(np.asarray(node.scale).shape)
    if kind == "Threshold":
        return tuple(np.asarray(node.threshold).shape)
    if kind in ("IF", "LIF", "LI", "I", "CubaLIF", "CubaLI"):
        return tuple(np.asarray(node.r).shape)
    raise SystemExit(f"node {kind}: cannot tell the shape of an input that only recurrent edges bring")


def per_step(tau, dt):
    """tau (as float32) / dt in float64, rounded to float32 (inf stays inf)."""
    return (np.asarray(tau, F).astype(np.float64) / dt).astype(F)


def no_leak(tau):
    return bool(np.all(np.isinf(np.asarray(tau, np.float64))))


def simulate(graph, images, steps, dt=1.0):
    order, incoming = topological(graph)
    n = images.shape[0]
    state, synapse, spikes, values = {}, {}, {}, {}
    output_sum = None
    for _ in range(steps):
        for name in order:
            node = graph.nodes[name]
            kind = type(node).__name__
            if kind == "Input":
                shape = [int(d) for d in node.input_type["input"]]
                values[name] = images.reshape([n] + (shape[1:] if len(shape) == 4 and shape[0] == 1 else shape))
                continue
            current = None
            if all(source not in values for source in incoming[name]):
                # Fed only by recurrent edges, before their sources' first step: an input of 0.
                current = np.zeros((n,) + input_shape(node), dtype=F)
            for source in incoming[name]:
                if source not in values:
                    continue  # a recurrent edge before its source's first step brings 0
                value = values[source]
                # Edges of one size and other shapes add up in the shape of the first.
                if current is not None and value.shape != current.shape:
                    value = value.reshape(current.shape)
                current = value if current is None else (current + value).astype(F)
            if kind == "Output":
                output_sum = current.copy() if output_sum is None else (output_sum + current).astype(F)
                values[name] = current
            elif kind == "Affine":
                values[name] = affine(current, node.weight, node.bias)
            elif kind == "Linear":
                values[name] = affine(current, node.weight, None)
            elif kind == "Scale":
                values[name] = (current * fit(node.scale, current)).astype(F)
            elif kind == "Identity":
                values[name] = current
            elif kind == "Flatten":
                stated = node.input_type.get("input") if node.input_type else None
                shape = tuple(int(d) for d in stated) if stated is not None else current.shape[1:]
                values[name] = current.reshape((n,) + flatten_shape(shape, int(node.start_dim), int(node.end_dim)))
            elif kind == "Conv2d":
                if current.ndim != 4:
                    current = current.reshape((n, node.weight.shape[1] * int(node.groups)) + tuple(int(d) for d in node.input_shape))
                values[name] = conv2d(current, node.weight.astype(F), node.bias, node.stride, node.padding,
                                      node.dilation, int(node.groups))
            elif kind in ("SumPool2d", "AvgPool2d"):
                values[name] = pool2d(current, node.kernel_size, node.stride, node.padding, kind == "AvgPool2d")
            elif kind in ("IF", "LIF", "CubaLIF", "LI", "I", "CubaLI"):
                v = state[name] if name in state else initial_membrane(node, current)
                r = fit(node.r, current)
                if kind in ("IF", "I"):
                    r = fit((np.asarray(node.r, F).astype(np.float64) * dt).astype(F), current)
                    v = (v + r * current).astype(F)
                elif kind in ("LIF", "LI"):
                    if no_leak(node.tau):
                        v = (v + current).astype(F)
                    else:
                        tau = fit(per_step(node.tau, dt), current)
                        v = (v + (fit(node.v_leak, current) - v + r * current) / tau).astype(F)
                else:
                    i = synapse.get(name, np.zeros_like(current, dtype=F))
                    if no_leak(node.tau_syn):
                        i = (i + current).astype(F)
                    else:
                        w_in = fit(getattr(node, "w_in", 1.0), current)
                        i = (i + (w_in * current - i) / fit(per_step(node.tau_syn, dt), current)).astype(F)
                    synapse[name] = i
                    if no_leak(node.tau_mem):
                        v = (v + i).astype(F)
                    else:
                        tau = fit(per_step(node.tau_mem, dt), current)
                        v = (v + (fit(node.v_leak, current) - v + r * i) / tau).astype(F)
                if kind in ("LI", "I", "CubaLI"):
                    state[name] = v
                    values[name] = v
                    continue
                threshold = fit(node.v_threshold, current)
                fired = v > threshold
                if metadata(node) == "subtract":
                    v = np.where(fired, v - threshold, v).astype(F)
                else:
                    reset = np.broadcast_to(fit(node.v_reset, current), v.shape)
                    v = np.where(fired, reset, v).astype(F)
                state[name] = v
                spikes[name] = spikes.get(name, 0) + fired.astype(np.int64)
                values[name] = fired.astype(F)
            elif kind == "Threshold":
                fired = current > fit(node.threshold, current)
                spikes[name] = spikes.get(name, 0) + fired.astype(np.int64)
                values[name] = fired.astype(F)
            else:
                raise SystemExit(f"unsupported node {name}: {kind}")
    return output_sum, spikes


def main():
    path, images_path, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    # type_check=False: nir 1.0.8 counts a grouped convolution's input channels as the
    # weight's second dimension, and refuses PyTorch's batch-inclusive Flatten.
    graph = nir.read(path, type_check=False)
    dt = float(sys.argv[5]) if len(sys.argv) > 5 else float(graph.metadata.get("dt", 1.0))
    images = np.load(images_path).astype(F)
    output, spikes = simulate(graph, images, steps, dt)
    with open(out, "w") as f:
        json.dump({
            "output": output.reshape(output.shape[0], -1).tolist(),
            "spikes": {k: int(v.sum()) for k, v in spikes.items()},
            "neuron_spikes": {k: v.reshape(-1).tolist() for k, v in spikes.items()},
        }, f)


if __name__ == "__main__":
    main()
