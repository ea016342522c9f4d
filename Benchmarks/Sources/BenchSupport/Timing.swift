/// Seconds per call of `body`, repeating it until at least 0.1 s elapse.
public func secondsPerCall(_ body: () -> Void) -> Double {
  let clock = ContinuousClock()
  var calls = 0
  let start = clock.now
  var elapsed = Duration.zero
  repeat {
    body()
    calls += 1
    elapsed = clock.now - start
  } while elapsed < .milliseconds(100)
  return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18) / Double(calls)
}
