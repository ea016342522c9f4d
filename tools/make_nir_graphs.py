#!/usr/bin/env python3
"""Builds small NIR graphs with the `nir` package's own API, for the tests of the toolkit's NIR
import (Tests/ModelIOTests/NIRImportTests.swift), which run them here and in
tools/nir_reference.py and compare.

    python3 tools/make_nir_graphs.py KIND OUT.nir

KIND:
  conv           Conv2d (stride 2, padding 1), LIF with a non-zero reset, AvgPool2d with
                 padding, a grouped and dilated Conv2d with 'same' padding, IF with per-neuron
                 thresholds, SumPool2d, Flatten, Affine, LI into the Output
  dense          Linear, Scale, and an Affine skip edge summed into a CubaLIF; Affine,
                 Threshold, Linear, I into the Output
  torch-flatten  Conv2d, IF, then Flatten with start_dim = 1 on C×H×W as PyTorch exporters
                 write it (batch-inclusive), Affine over all C·H·W values
  recurrent      recurrent edges: an LIF fed back through a Linear, a CubaLIF fed back through
                 a Linear and through a Scale, as recurrent networks are exported
  layouts        values of an image in every order a runtime may keep them: a Conv2d and a
                 flat Affine of the input summed into one IF, a Conv2d whose output channels
                 each select another input channel, Scale and Threshold per element of an
                 image, an Affine over an image's last axis (into a Threshold that leads
                 nowhere), an average pooling and an LI into an image-shaped Output

The parameters are drawn from a seeded generator, so a KIND always gives the same file.
"""
import sys, nir, numpy as np
rng = np.random.default_rng(7)
F = np.float32
def f(*shape, scale=1.0):
    return rng.uniform(-scale, scale, shape).astype(F)
def full(shape, value):
    return np.full(shape, value, dtype=F)
kind, path = sys.argv[1], sys.argv[2]
if kind == "conv":
    nodes = {
        "in": nir.Input(input_type={"input": np.array([2, 9, 9])}),
        "conv1": nir.Conv2d(input_shape=(9, 9), weight=f(4, 2, 3, 3), stride=2, padding=1, dilation=1, groups=1,
                            bias=f(4, scale=0.1)),
        "lif": nir.LIF(tau=full((4, 5, 5), 3), r=full((4, 5, 5), 1.5), v_leak=full((4, 5, 5), 0.05),
                       v_threshold=full((4, 5, 5), 0.4), v_reset=full((4, 5, 5), -0.1)),
        "avg": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]), padding=np.array([1, 1])),
        "conv2": nir.Conv2d(input_shape=(6, 6), weight=f(6, 2, 2, 2), stride=1, padding="same", dilation=2,
                            groups=2, bias=f(6, scale=0.1)),
        "if": nir.IF(r=full((6, 6, 6), 1), v_threshold=rng.uniform(0.2, 0.6, (6, 6, 6)).astype(F)),
        "sum": nir.SumPool2d(kernel_size=np.array([3, 3]), stride=np.array([3, 3]), padding=np.array([0, 0])),
        "flat": nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array([6, 2, 2])}),
        "fc": nir.Affine(weight=f(3, 24), bias=f(3, scale=0.1)),
        "li": nir.LI(tau=full(3, 2), r=full(3, 1), v_leak=full(3, 0)),
        "out": nir.Output(output_type={"output": np.array([3])}),
    }
    edges = [("in", "conv1"), ("conv1", "lif"), ("lif", "avg"), ("avg", "conv2"), ("conv2", "if"), ("if", "sum"),
             ("sum", "flat"), ("flat", "fc"), ("fc", "li"), ("li", "out")]
elif kind == "dense":
    nodes = {
        "in": nir.Input(input_type={"input": np.array([12])}),
        "lin": nir.Linear(weight=f(8, 12)),
        "scale": nir.Scale(scale=rng.uniform(0.5, 2, 8).astype(F)),
        "skip": nir.Affine(weight=f(8, 12, scale=0.5), bias=f(8, scale=0.1)),
        "cuba": nir.CubaLIF(tau_mem=full(8, 4), tau_syn=full(8, 2), r=full(8, 2), v_leak=full(8, 0),
                            v_threshold=full(8, 0.3), w_in=full(8, 1.5)),
        "fc": nir.Affine(weight=f(6, 8), bias=f(6, scale=0.2)),
        "thr": nir.Threshold(threshold=full(6, 0.1)),
        "fc2": nir.Linear(weight=f(4, 6)),
        "int": nir.I(r=full(4, 0.5)),
        "out": nir.Output(output_type={"output": np.array([4])}),
    }
    edges = [("in", "lin"), ("lin", "scale"), ("scale", "cuba"), ("in", "skip"), ("skip", "cuba"), ("cuba", "fc"),
             ("fc", "thr"), ("thr", "fc2"), ("fc2", "int"), ("int", "out")]
elif kind == "torch-flatten":
    nodes = {
        "in": nir.Input(input_type={"input": np.array([2, 4, 4])}),
        "conv": nir.Conv2d(input_shape=(4, 4), weight=f(3, 2, 3, 3), stride=1, padding=1, dilation=1, groups=1,
                           bias=f(3, scale=0.1)),
        "if": nir.IF(r=full((3, 4, 4), 1), v_threshold=full((3, 4, 4), 0.5)),
        "flat": nir.Flatten(start_dim=1, end_dim=-1, input_type={"input": np.array([3, 4, 4])}),
        "fc": nir.Affine(weight=f(5, 48), bias=f(5, scale=0.1)),
        "out": nir.Output(output_type={"output": np.array([5])}),
    }
    edges = [("in", "conv"), ("conv", "if"), ("if", "flat"), ("flat", "fc"), ("fc", "out")]
elif kind == "layouts":
    select = np.zeros((4, 4, 2, 2), dtype=F)
    for o in range(4):
        select[o, (o + 1) % 4, o % 2, 1 - o % 2] = 1.0 + 0.25 * o
    nodes = {
        "in": nir.Input(input_type={"input": np.array([3, 6, 6])}),
        "conv": nir.Conv2d(input_shape=(6, 6), weight=f(4, 3, 3, 3, scale=0.6), stride=1, padding=1, dilation=1,
                           groups=1, bias=f(4, scale=0.1)),
        "flat": nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array([3, 6, 6])}),
        "skip": nir.Affine(weight=f(144, 108, scale=0.15), bias=f(144, scale=0.05)),
        "if": nir.IF(r=full((4, 6, 6), 1), v_threshold=rng.uniform(0.3, 0.7, (4, 6, 6)).astype(F)),
        "select": nir.Conv2d(input_shape=(6, 6), weight=select, stride=2, padding=0, dilation=1, groups=1,
                             bias=full(4, 0)),
        "scale": nir.Scale(scale=rng.uniform(0.5, 1.5, (4, 3, 3)).astype(F)),
        "thr": nir.Threshold(threshold=rng.uniform(0.2, 0.8, (4, 3, 3)).astype(F)),
        "rows": nir.Affine(weight=f(2, 3), bias=f(2, scale=0.3)),
        "thr2": nir.Threshold(threshold=full((4, 3, 2), 0.1)),
        "pool": nir.AvgPool2d(kernel_size=np.array([1, 2]), stride=np.array([1, 1]), padding=np.array([0, 0])),
        "li": nir.LI(tau=full((4, 3, 2), 2), r=full((4, 3, 2), 1), v_leak=full((4, 3, 2), 0)),
        "out": nir.Output(output_type={"output": np.array([4, 3, 2])}),
    }
    edges = [("in", "conv"), ("in", "flat"), ("flat", "skip"), ("conv", "if"), ("skip", "if"), ("if", "select"),
             ("select", "scale"), ("scale", "thr"), ("thr", "pool"), ("pool", "li"), ("li", "out"),
             ("thr", "rows"), ("rows", "thr2")]
elif kind == "recurrent":
    nodes = {
        "in": nir.Input(input_type={"input": np.array([10])}),
        "fc": nir.Affine(weight=f(8, 10, scale=0.6), bias=f(8, scale=0.1)),
        "lif": nir.LIF(tau=full(8, 4), r=full(8, 1.5), v_leak=full(8, 0), v_threshold=full(8, 0.4)),
        "rec": nir.Linear(weight=f(8, 8, scale=0.5)),
        "cuba": nir.CubaLIF(tau_mem=full(6, 3), tau_syn=full(6, 2), r=full(6, 2), v_leak=full(6, 0),
                            v_threshold=full(6, 0.3), w_in=full(6, 1.2)),
        "mix": nir.Affine(weight=f(6, 8), bias=f(6, scale=0.1)),
        "back": nir.Linear(weight=f(6, 6, scale=0.4)),
        "fc2": nir.Linear(weight=f(4, 6)),
        "li": nir.LI(tau=full(4, 2), r=full(4, 1), v_leak=full(4, 0)),
        "out": nir.Output(output_type={"output": np.array([4])}),
    }
    edges = [("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "mix"), ("mix", "cuba"),
             ("cuba", "back"), ("back", "cuba"), ("cuba", "cuba_self"), ("cuba_self", "cuba"), ("cuba", "fc2"),
             ("fc2", "li"), ("li", "out")]
    nodes["cuba_self"] = nir.Scale(scale=full(6, -0.2))
else:
    raise SystemExit(f"unknown kind {kind}: conv, dense, torch-flatten, layouts or recurrent")
# type_check=False: nir 1.0.8 counts a grouped convolution's input channels as the weight's
# second dimension, and refuses PyTorch's batch-inclusive Flatten.
nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
