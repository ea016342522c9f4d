import ArgumentParser

/// Parses a comma-separated option value (`--dynamics signgd,subgradient`,
/// `--timesteps 1,2,4`): every tool's list options go through here, so they split, trim and
/// complain alike.
/// - Parameters:
///   - option: the flag, for the message (`--dynamics`).
///   - expected: what an element may be, for the message (`signgd or subgradient`).
///   - element: parses one trimmed element; nil rejects it.
/// - Throws: `ValidationError` naming the option, the rejected element and what was expected;
///   an empty list is rejected too.
public func parseList<T>(
  _ text: String, option: String, expected: String, _ element: (String) -> T?
) throws -> [T] {
  let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
    $0.trimmingCharacters(in: .whitespaces)
  }
  return try parts.map { part in
    guard let value = element(part) else {
      throw ValidationError(
        "\(option) takes a comma-separated list of \(expected); '\(part)' is not one")
    }
    return value
  }
}

/// ``parseList(_:option:expected:_:)`` for a closed set named by raw values: the message lists
/// every member.
public func parseList<T: CaseIterable & RawRepresentable>(_ text: String, option: String) throws -> [T]
where T.RawValue == String {
  try parseList(
    text, option: option, expected: T.allCases.map(\.rawValue).joined(separator: ", "), T.init(rawValue:))
}

/// Parses `--timesteps 1,2,4`: positive and strictly increasing.
public func parseTimesteps(_ text: String) throws -> [Int] {
  let values = try parseList(text, option: "--timesteps", expected: "integers in 1…\(ToolLimits.timesteps)") {
    part -> Int? in
    guard let value = Int(part), value > 0, value <= ToolLimits.timesteps else { return nil }
    return value
  }
  guard zip(values, values.dropFirst()).allSatisfy({ $0 < $1 }) else {
    throw ValidationError("--timesteps must be strictly increasing, got \(text)")
  }
  return values
}
