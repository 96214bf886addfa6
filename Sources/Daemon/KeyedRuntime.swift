import Processing
import Rules

/// This instance's side of the repartition step: the layout and the keyed tasks it owns.
final class KeyedRuntime {
    struct Task {
        var engine: Engine
        var epoch: Int64
        /// The watermark the task has processed through, as stored (its claim's offset, in microseconds).
        var through: Int64?
    }

    let layout: KeyedLayout
    var tasks: [KeyedTaskID: Task] = [:]
    /// When the tasks last ran.
    var lastRun: ContinuousClock.Instant?

    init(layout: KeyedLayout) { self.layout = layout }
}

