import ArgumentParser
import Datasets
import Foundation
import Pipeline
import Spiking
import ToolSupport

extension SNNConv {
  struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a Keras HDF5 model into a spiking network file (.snn.h5).",
      discussion: """
        Every elementwise activation becomes a population of neurons with the chosen dynamics. Max pooling \
        becomes a tree of two-input max neurons, LayerNorm and an inner softmax become affine steps plus \
        square/normalize and exp/divide neurons; --fuse keeps each as one population tracking the whole op. \
        --normalize max or pNN.N scales each population by its largest (or percentile) activation on \
        --calibration training images, per layer, channel or neuron (--granularity).
        """)

    @Argument(help: ArgumentHelp("A Keras HDF5 model file.", valueName: "model.h5")) var model: String
    @Option(help: "Neuronal dynamics.") var dynamics: Dynamics = .signGD
    @Option(
      help: ArgumentHelp(
        "Normalization: none, max, or a percentile such as p99.9.", valueName: "none|max|pNN.N"),
      transform: parseNormalization)
    var normalize: Normalization = .max
    @OptionGroup(title: "Conversion") var conversion: ConversionOptions
    @Option(
      name: .long,
      help: ArgumentHelp(
        "Where calibration images come from: 'fashion-mnist' or a directory of IDX files (training split).",
        valueName: "source"),
      transform: parseDataSource)
    var data: DataSource = .fashionMNIST
    @Option(
      name: [.short, .long],
      help: ArgumentHelp("Where to write the spiking network.", valueName: "out.snn.h5"))
    var output: String

    func run() throws {
      try prepareOutputs(files: [output], inputs: [model])
      let converted = try SourcedNetwork(
        converting: try TrainedModel(path: model),
        settings: conversion.settings(dynamics: dynamics, normalization: normalize), calibrationData: data)
      try converted.write(to: output)
      let network = converted.network
      for spec in network.populations {
        print(
          "\(spec.node)  \(network.graph.node(spec.node)?.op.kind ?? "")  \(spec.dynamics.rawValue)  λ \(spec.scales.count > 1 ? "≤" : "=") \(String(format: "%.4g", spec.scale))"
        )
      }
      print(
        "wrote \(output): \(network.populations.count) populations, normalization \(network.normalization)\(network.normalization == .none ? "" : " per \(network.granularity.rawValue)")"
      )
    }
  }
}
