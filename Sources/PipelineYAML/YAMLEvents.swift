internal import CYAML
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// One libyaml event as the builder reads it: plain data copied out of the C event, so the
/// event is deleted where it was parsed and the builder may run on another thread.
struct Event {
    enum Kind: UInt8 { case scalar, mappingStart, sequenceStart, end, documentStart, alias, streamEnd, other }

    var kind: Kind
    /// A scalar's style (plain for the rest).
    var style: ScalarStyle
    /// The event carries a tag (`!name`), which a pipeline file may not.
    var tagged: Bool
    /// The event carries an anchor (`&name`), which a pipeline file may not.
    var anchored: Bool
    /// Where the event starts, 1-based.
    var line: Int32
    var column: Int32
    /// A scalar's text: 0 or more, an offset in the input (written as it reads); below 0, `~start`
    /// is an offset in the batch's ``EventBatch/text``.
    var start: Int32
    /// A scalar's length in bytes.
    var count: Int32

    var mark: Mark { Mark(line: Int(line), column: Int(column)) }
}

/// Events parsed one after another, with the text of the scalars that are not a slice of the
/// input; filled by an ``EventSource`` and read by the builder, one batch at a time.
final class EventBatch: @unchecked Sendable {
    /// How many events a batch holds (a few thousand: a hand-off per batch is cheap next to it).
    static let capacity = 2048

    let events: UnsafeMutablePointer<Event>
    var count = 0
    /// The text of the scalars not written as they read (escapes, `''`, folded lines, blocks).
    var text: [UInt8] = []
    /// What stopped the parse after the events (a syntax error, invalid UTF-8): thrown once they
    /// are read.
    var problem: YAMLProblem?
    /// The last batch of the stream: its end, or a problem, is in it.
    var isLast = false

    init() { events = .allocate(capacity: Self.capacity) }
    deinit { events.deallocate() }
}

/// Owns a libyaml parser and its current event; frees them in `deinit`. The C structs live at
/// fixed addresses (not in stored properties, which Swift would check for exclusive access on
/// every event). The input is the caller's, and must outlive the source.
final class EventSource: @unchecked Sendable {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let event: UnsafeMutablePointer<yaml_event_t>
    /// A byte to point at for an empty input (libyaml wants a non-null pointer).
    private let empty: UnsafeMutablePointer<UInt8>
    let input: UnsafeBufferPointer<UInt8>

    init(_ input: UnsafeBufferPointer<UInt8>) {
        self.input = input
        empty = .allocate(capacity: 1)
        empty.initialize(to: 0)
        parser = .allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        event = .allocate(capacity: 1)
        event.initialize(to: yaml_event_t())
        _ = yaml_parser_initialize(parser)
        yaml_parser_set_input_string(parser, input.isEmpty ? UnsafePointer(empty) : input.baseAddress, input.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        event.deallocate()
        empty.deallocate()
    }

    /// Parses the next events into `batch` (emptied first) until it is full, the stream ends or
    /// libyaml reports a problem (then ``EventBatch/isLast`` is set).
    func fill(_ batch: EventBatch) {
        batch.count = 0
        batch.text.removeAll(keepingCapacity: true)
        while batch.count < EventBatch.capacity {
            guard yaml_parser_parse(parser, event) != 0 else {
                batch.problem = problem()
                batch.isLast = true
                return
            }
            let kind = copy(into: batch)
            yaml_event_delete(event)
            if kind == .streamEnd {
                batch.isLast = true
                return
            }
        }
    }

    /// Appends the current event to `batch`.
    private func copy(into batch: EventBatch) -> Event.Kind {
        let event = self.event.pointee
        var copied = Event(
            kind: .other, style: .plain, tagged: false, anchored: false, line: Int32(clamping: event.start_mark.line &+ 1),
            column: Int32(clamping: event.start_mark.column &+ 1), start: 0, count: 0)
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            copied.kind = .scalar
            copied.tagged = scalar.tag != nil
            copied.anchored = scalar.anchor != nil
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: copied.style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: copied.style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: copied.style = .literal
            case YAML_FOLDED_SCALAR_STYLE: copied.style = .folded
            default: copied.style = .plain
            }
            let value = UnsafeBufferPointer(start: scalar.value, count: scalar.length)
            copied.count = Int32(clamping: value.count)
            if let offset = Self.sourceOffset(of: value, style: copied.style, at: Int(event.start_mark.index), in: input),
                let at = Int32(exactly: offset), at <= Int32.max - copied.count
            {
                // Written as it reads: its text is the input's.
                copied.start = at
            } else {
                copied.start = ~Int32(clamping: batch.text.count)
                batch.text.append(contentsOf: value)
            }
        case YAML_MAPPING_START_EVENT:
            copied.kind = .mappingStart
            copied.tagged = event.data.mapping_start.tag != nil
            copied.anchored = event.data.mapping_start.anchor != nil
        case YAML_SEQUENCE_START_EVENT:
            copied.kind = .sequenceStart
            copied.tagged = event.data.sequence_start.tag != nil
            copied.anchored = event.data.sequence_start.anchor != nil
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT: copied.kind = .end
        case YAML_DOCUMENT_START_EVENT: copied.kind = .documentStart
        case YAML_ALIAS_EVENT: copied.kind = .alias
        case YAML_STREAM_END_EVENT: copied.kind = .streamEnd
        default: copied.kind = .other  // stream start, document end
        }
        batch.events[batch.count] = copied
        batch.count += 1
        return copied.kind
    }

    /// Where in the input a scalar's text is written exactly as it reads, if it is: a plain
    /// scalar at its start mark, a quoted one just past its quote (libyaml's mark index counts
    /// characters; where that is not the byte offset, the bytes differ and the text is copied).
    static func sourceOffset(of value: UnsafeBufferPointer<UInt8>, style: ScalarStyle, at index: Int, in input: UnsafeBufferPointer<UInt8>) -> Int? {
        let offset: Int
        switch style {
        case .plain: offset = index
        case .singleQuoted, .doubleQuoted: offset = index + 1
        case .literal, .folded: return nil
        }
        guard offset >= 0, offset <= input.count - value.count else { return nil }
        guard let wanted = value.baseAddress, let base = input.baseAddress else { return value.isEmpty ? offset : nil }
        return memcmp(base + offset, wanted, value.count) == 0 ? offset : nil
    }

    private func problem() -> YAMLProblem {
        let parser = self.parser.pointee
        let text = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        if parser.error == YAML_READER_ERROR {
            // Reader errors (bad encoding) carry a byte offset, not a mark.
            let offset = min(Int(parser.problem_offset), input.count)
            let message = text.contains("UTF-8") ? "invalid UTF-8: \(text)" : text
            return YAMLProblem(mark: mark(atByteOffset: offset), message: message)
        }
        var message = text
        if let context = parser.context {
            let at = Mark(parser.context_mark)
            message += " (\(String(cString: context)) at line \(at.line), column \(at.column))"
        }
        return YAMLProblem(mark: Mark(parser.problem_mark), message: message)
    }

    private func mark(atByteOffset offset: Int) -> Mark {
        var line = 1
        var column = 1
        for byte in input[..<offset] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return Mark(line: line, column: column)
    }
}

extension Mark {
    /// Converts libyaml's 0-based mark, once, at the C border.
    init(_ mark: yaml_mark_t) {
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

/// Batches handed from a parse thread to the reader's thread through a ring of a few slots:
/// the parser fills the next free slot while the builder reads the one before, so libyaml's
/// work and the builder's overlap on two processors. Two counting semaphores order the hand-offs
/// (each `sem_post`/`sem_wait` pair also orders the batch's memory between the threads).
final class EventPipe: @unchecked Sendable {
    static let slots = 4

    let batches: [EventBatch]
    private let free: UnsafeMutablePointer<sem_t>
    private let filled: UnsafeMutablePointer<sem_t>
    /// Set by the reader when it stops early (a problem, or the end): the parser stops at its next slot.
    private let stopped = Atomic<Bool>(false)

    init() {
        batches = (0..<Self.slots).map { _ in EventBatch() }
        free = .allocate(capacity: 1)
        filled = .allocate(capacity: 1)
        sem_init(free, 0, UInt32(Self.slots))
        sem_init(filled, 0, 0)
    }

    deinit {
        sem_destroy(free)
        sem_destroy(filled)
        free.deallocate()
        filled.deallocate()
    }

    /// The parse thread, once started; joined by ``finish()``.
    private var thread: Threads.Handle?

    /// A pipe whose parse thread reads `source`, or nil when no thread could be started.
    static func start(_ source: EventSource) -> EventPipe? {
        let pipe = EventPipe()
        guard let thread = Threads.startIfPossible({ pipe.produce(from: source) }) else { return nil }
        pipe.thread = thread
        return pipe
    }

    /// The parse thread's loop: fills slot after slot until the stream's last batch, or until
    /// the reader stops.
    private func produce(from source: EventSource) {
        var slot = 0
        while true {
            Self.wait(free)
            if stopped.load(ordering: .acquiring) { return }
            let batch = batches[slot]
            source.fill(batch)
            sem_post(filled)
            if batch.isLast { return }
            slot = (slot + 1) % Self.slots
        }
    }

    /// The next filled batch, in order (the reader keeps its own slot count).
    func next(_ slot: Int) -> EventBatch {
        Self.wait(filled)
        return batches[slot % Self.slots]
    }

    /// Gives a batch's slot back to the parser.
    func release() { sem_post(free) }

    /// Stops the parse thread at its next slot (it may be waiting for one: it is woken) and
    /// waits for it to end.
    func finish() {
        stopped.store(true, ordering: .releasing)
        sem_post(free)
        Threads.join(thread)
        thread = nil
    }

    private static func wait(_ semaphore: UnsafeMutablePointer<sem_t>) {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }
}
