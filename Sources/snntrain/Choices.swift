import ArgumentParser
import Graph
import Tensor
import Training

extension Precision: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension Loss: ExpressibleByArgument {}
extension MaxTieRule: ExpressibleByArgument {}
extension ModelPreset: ExpressibleByArgument {}

/// Parses `--activation`: a name of `UnaryFunction.named` (a dash may stand for the underscore:
/// `leaky-relu`).
func parseActivation(_ text: String) throws -> UnaryFunction {
  guard let function = UnaryFunction(named: text.replacingOccurrences(of: "-", with: "_")) else {
    throw ValidationError("--activation must be one of \(UnaryFunction.namesList), got '\(text)'")
  }
  return function
}

/// Learning-rate schedule names accepted by `--schedule`.
enum ScheduleChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
  case constant, step, cosine
}
