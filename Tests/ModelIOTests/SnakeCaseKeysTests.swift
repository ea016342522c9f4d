import Testing

@testable import ModelIO

@Suite struct SnakeCaseKeysTests {
  @Test(arguments: [
    ("zeroPad2d", "zero_pad2d"), ("globalAveragePool2d", "global_average_pool2d"), ("useBias", "use_bias"),
    ("kernelSize", "kernel_size"), ("eta0", "eta0"), ("_0", "_0"), ("leakyRelu", "leaky_relu"),
    ("conv2d", "conv2d"), ("lastAxisRotation", "last_axis_rotation"), ("maxValue", "max_value"),
  ])
  func keysGoToSnakeCaseAndBack(camel: String, snake: String) {
    #expect(SnakeCaseKeys.snake(camel) == snake)
    #expect(SnakeCaseKeys.camel(snake) == camel)
    // camelCase keys (files before version 5) read unchanged.
    #expect(SnakeCaseKeys.camel(camel) == camel)
  }
}
