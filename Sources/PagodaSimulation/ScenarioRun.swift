import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A scenario file simulated on three threads (`pagoda simulate`).
///
/// The file is read twice: a first pass checks every line and indexes it (`FirstPass`), then `simulate`
/// applies them: a reader thread parses, validates and routes lines in batches, the calling thread
/// simulates, a writer thread prints the events to standard output as JSON lines. A scenario in time
/// order is streamed from the file both times; one with lines out of time order is loaded whole and
/// sorted stably by `at`.
public enum ScenarioRun {
    /// When the second pass reached each of its phases.
    public struct Report: Sendable {
        public var summary: Simulation.Summary
        /// The UTC offset the events were written with.
        public var offsetSeconds: Int
        /// When the last line was applied, and when the timers after it had fired.
        public var linesAppliedAt: Date
        public var finishedAt: Date
    }

    /// Simulates the lines of `path` that `pass` checked and indexed, writing the events to standard
    /// output. Throws `ScenarioReader.ReadError` when the file cannot be read or a line changed since the
    /// first pass (the events of the lines before it are written).
    public static func simulate(
        path: String, pass checked: FirstPass, rules ruleSet: RuleSet, until untilDate: Date?,
        verbose: Bool
    ) throws -> Report {
        let index = checked.index
        let inOrder = checked.inOrder
        // Pass 2: a reader thread parses, validates and routes the lines in batches while this thread
        // applies them; a writer thread streams the events to stdout as JSON lines.
        // An open ticket is kept as where it lies in the file, and read again from there in the rare case
        // that it is re-routed (`PreparedLine.TicketSource`).
        let readTicket: @Sendable (Int, Int) -> Ticket? = { offset, length in
            guard let bytes = try? ScenarioReader.read(path: path, offset: offset, length: length) else { return nil }
            return bytes.withUnsafeBytes { PreparedLine.ticket(payload: $0, rules: ruleSet) }
        }
        var simulation = Simulation(
            rules: ruleSet, options: .init(until: untilDate, verbose: verbose, readTicket: readTicket))
        simulation.reserveCapacity(tickets: index.reduce(0) { $0 + ($1.isTicket ? 1 : 0) })
        let encoder = SimulationEncoder(offsetSeconds: simulation.offsetSeconds, verbose: verbose)
        let batches = BatchQueue<MovingBatch<PreparedLine>>(capacity: 8)
        // Batches whose lines were applied go back to the reader to be filled again.
        let emptied = Recycler<MovingBatch<PreparedLine>>()
        let order: [IndexedLine]? =
            inOrder
            ? nil
            : index.enumerated()
                .sorted { $0.element.at != $1.element.at ? $0.element.at < $1.element.at : $0.offset < $1.offset }
                .map(\.element)
        startThread {
            var batch = MovingBatch<PreparedLine>(capacity: batchSize)
            // A line checked in pass 1; a line that is no longer valid (the file changed since) stops the run.
            func prepare(_ bytes: UnsafeRawBufferPointer, _ entry: IndexedLine?, place: @autoclosure () -> String)
                throws
            {
                switch ScenarioRun.prepare(bytes, entry, rules: ruleSet) {
                case .failure(let e):
                    throw ScenarioReader.ReadError(
                        description: "\(place()): the line changed after it was checked: \(e.reason)")
                case .success(let prepared):
                    batch.append(prepared)
                }
                if batch.isFull {
                    batches.put(batch)
                    if let reused = emptied.take() {
                        reused.reset()
                        batch = reused
                    } else {
                        batch = MovingBatch(capacity: batchSize)
                    }
                }
            }
            do {
                if let order {
                    // Out of time order: load the file and prepare its lines sorted stably by `at`.
                    let all = try ScenarioReader.readAll(path: path)
                    try all.withUnsafeBytes { raw in
                        for l in order {
                            guard l.offset + Int(l.length) <= raw.count else {
                                throw ScenarioReader.ReadError(
                                    description:
                                        "\(path): the line at byte \(l.offset) is gone: the file is shorter than when it was checked"
                                )
                            }
                            try prepare(
                                UnsafeRawBufferPointer(rebasing: raw[l.offset..<(l.offset + Int(l.length))]), l,
                                place: "\(path): the line at byte \(l.offset)")
                        }
                    }
                } else {
                    // The same lines in the same order as pass 1 indexed them (unless the file changed since:
                    // then a line is parsed whole).
                    var next = 0
                    try ScenarioReader.forEachLine(path: path) { number, offset, bytes in
                        let entry = next < index.count && index[next].offset == offset ? index[next] : nil
                        next += 1
                        try prepare(bytes, entry, place: "\(path):\(number)")
                    }
                }
                if !batch.isEmpty { batches.put(batch) }
                batches.finish(error: nil)
            } catch {
                batches.finish(error: "\(error)")
            }
        }
        // A writer thread turns the records into JSON lines on stdout, and hands each written batch back
        // to be freed by this thread, which allocated its records: a record freed by another thread costs
        // the allocator more (measured: a sixth of the writer's time went to freeing records). The emptied
        // batch is filled again, so its storage is not allocated anew for every batch.
        let records = BatchQueue<SimulationOutput>(capacity: 8)
        let written = DispatchSemaphore(value: 0)
        let spent = Recycler<SimulationOutput>()
        startThread {
            var out = OutputBuffer(encoder: encoder)
            while var batch = records.take() {
                out.write(&batch)
                spent.put(consume batch)
            }
            out.flush()
            written.signal()
        }
        // The simulation appends its records to an output handed to the writer once it holds a batch; a
        // written one comes back to be emptied and filled again.
        var sink = SimulationSink(batchSize: batchSize) { full in
            var next = spent.take() ?? SimulationOutput()
            next.removeAll(keepingCapacity: true)  // frees the written records, here
            swap(&full, &next)
            // Moved, not copied: a copy released only after `put` returns could still be alive when the
            // writer takes the batch, and the writer would then copy every event of it (copy on write).
            records.put(consume next)
        }
        func closeOutput() {
            var last = SimulationOutput()
            swap(&last, &sink.output)
            records.put(consume last)
            records.finish()
            written.wait()
        }
        while let batch = batches.take() {
            // Each line is moved out of its batch into the simulation (read in place, a line would be copied:
            // a reference count for each of its fields).
            while let line = batch.next() { simulation.apply(line, into: &sink) }
            emptied.put(batch)
        }
        if let error = batches.error {
            closeOutput()
            throw ScenarioReader.ReadError(description: error)
        }
        let linesAppliedAt = Date()
        let summary = simulation.finish(into: &sink)
        let finishedAt = Date()
        closeOutput()

        return Report(
            summary: summary, offsetSeconds: simulation.offsetSeconds, linesAppliedAt: linesAppliedAt,
            finishedAt: finishedAt)
    }
    /// A checked line: its time, where it lies in the file and where its ticket or command object lies in
    /// it (`payloadStart` -1 when the check did not say).
    public struct IndexedLine: Sendable {
        var at: Date
        var offset: Int
        var length: Int32
        var payloadStart: Int32
        var payloadLength: Int32
        var isTicket: Bool
    }

    /// A line of the second pass, prepared for the simulation. Where the first pass found the line's
    /// ticket or command (`entry`), only that object is read; anything else (a line the scan did not
    /// decide, or one that changed since) is parsed whole, and a line that is no longer valid is an error.
    public static func prepare(_ bytes: UnsafeRawBufferPointer, _ entry: IndexedLine?, rules: RuleSet) -> Result<
        PreparedLine, ScenarioLineError
    > {
        if let entry, entry.payloadStart >= 0, Int(entry.payloadStart) + Int(entry.payloadLength) <= bytes.count {
            let payload = Int(entry.payloadStart)..<Int(entry.payloadStart) + Int(entry.payloadLength)
            if let prepared = PreparedLine(
                payload: UnsafeRawBufferPointer(rebasing: bytes[payload]), at: entry.at,
                isTicket: entry.isTicket, rules: rules, location: entry.offset + payload.lowerBound)
            {
                return .success(prepared)
            }
        }
        return ScenarioLine.parse(bytes).map { PreparedLine($0, rules: rules) }
    }

    /// The first pass over a scenario: every line checked (`ScenarioLine.check`) and indexed. A file of
    /// 1 MiB or more is checked in two parts, split at a line boundary, on two threads.
    public struct FirstPass: Sendable {
        public internal(set) var index: [IndexedLine] = []
        /// Every line's `at` is at or after the previous line's.
        public internal(set) var inOrder = true
        public internal(set) var errors = 0
        /// The first 20 invalid lines: line number and reason, in file order.
        public internal(set) var firstErrors: [(Int, String)] = []
        /// Lines read, blank ones included (the numbering of the part that follows).
        var lines = 0

        static let shownErrors = 20

        public static func run(path: String) throws -> FirstPass {
            let size = try ScenarioReader.size(path: path)
            guard size >= 1 << 20, let split = try ScenarioReader.lineStart(path: path, near: size / 2), split < size
            else {
                return try check(path: path, range: 0..<size)
            }
            let second = BatchQueue<Result<FirstPass, ScenarioReader.ReadError>>(capacity: 1)
            startThread {
                second.put(
                    Result { try check(path: path, range: split..<size) }.mapError(ScenarioReader.ReadError.init))
                second.finish()
            }
            var first = try check(path: path, range: 0..<split)
            guard let result = second.take() else {
                throw ScenarioReader.ReadError(description: "cannot read '\(path)'")
            }
            let rest = try result.get()
            if let a = first.index.last, let b = rest.index.first, b.at < a.at { first.inOrder = false }
            first.inOrder = first.inOrder && rest.inOrder
            first.index.append(contentsOf: rest.index)
            for (n, reason) in rest.firstErrors where first.firstErrors.count < shownErrors {
                first.firstErrors.append((first.lines + n, reason))
            }
            first.errors += rest.errors
            first.lines += rest.lines
            return first
        }

        /// Checks the lines in `range` of the file (which starts at a line start), numbering from 1.
        static func check(path: String, range: Range<Int>) throws -> FirstPass {
            var pass = FirstPass()
            var lastAt = -Double.infinity
            var scanner = JSONObjectScanner()
            pass.lines = try ScenarioReader.forEachLine(path: path, range: range) { number, offset, bytes in
                switch ScenarioLine.check(bytes, scanner: &scanner) {
                case .failure(let e):
                    pass.errors += 1
                    if pass.firstErrors.count < shownErrors { pass.firstErrors.append((number, e.reason)) }
                case .success(let checked):
                    let t = checked.at.timeIntervalSince1970
                    if t < lastAt { pass.inOrder = false }
                    lastAt = max(lastAt, t)
                    // Lines are at most 1 MiB (`ScenarioLine.limits`), so their lengths fit 32 bits.
                    let payload = checked.payload ?? -1..<(-1)
                    pass.index.append(
                        IndexedLine(
                            at: checked.at, offset: offset, length: Int32(bytes.count),
                            payloadStart: Int32(payload.lowerBound), payloadLength: Int32(payload.count),
                            isTicket: checked.isTicket))
                }
            }
            return pass
        }
    }
}

/// Runs `body` on a new thread with an 8 MiB stack (the pass's parsing and simulation recurse little, but
/// the default for secondary threads is small).
private func startThread(_ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.stackSize = 8 << 20
    thread.start()
}

/// Lines or records per batch handed between threads.
private let batchSize = 1024

/// Batches handed from one thread to another (prepared lines from the reader, records to the writer), at
/// most `capacity` batches waiting: the producer blocks beyond that, so memory stays bounded.
final class BatchQueue<Batch: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Batch?] = []
    private var head = 0
    private var done = false
    private var failure: String?
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func put(_ batch: consuming Batch) {
        condition.lock()
        while queue.count - head >= capacity { condition.wait() }
        queue.append(consume batch)
        condition.broadcast()
        condition.unlock()
    }

    /// No more batches; `error` says why the producer stopped early.
    func finish(error: String? = nil) {
        condition.lock()
        done = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, or nil once the producer has finished and every batch was taken.
    func take() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while head == queue.count && !done { condition.wait() }
        guard head < queue.count else { return nil }
        let batch = queue[head].take()
        head += 1
        if head > 64 {
            queue.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return batch
    }

    /// Why the producer stopped early, once `take` returned nil.
    var error: String? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }
}

/// Elements appended by one thread and moved out, in order, by another: taking an element out of an
/// array would copy it (a reference count for each of its fields) or reorder the array.
final class MovingBatch<Element>: @unchecked Sendable {
    private let base: UnsafeMutablePointer<Element>
    private let capacity: Int
    private var count = 0
    /// Elements before this index were moved out.
    private var taken = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    var isFull: Bool { count == capacity }

    /// Makes a batch whose elements were all taken ready to be filled again.
    func reset() {
        precondition(taken == count, "elements left in the batch")
        count = 0
        taken = 0
    }
    var isEmpty: Bool { count == taken }

    func append(_ element: consuming Element) {
        precondition(count < capacity, "batch full")
        (base + count).initialize(to: element)
        count += 1
    }

    /// Moves the next element out of the batch; nil when every element was taken.
    func next() -> Element? {
        guard taken < count else { return nil }
        taken += 1
        return (base + taken - 1).move()
    }

    deinit {
        (base + taken).deinitialize(count: count - taken)
        base.deallocate()
    }
}

/// Batches handed back by the thread that used them, to be emptied (their elements freed) and filled again
/// by the thread that made them.
final class Recycler<Batch: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var batches: [Batch] = []

    func put(_ batch: consuming Batch) {
        lock.lock()
        batches.append(consume batch)
        lock.unlock()
    }

    /// A batch handed back, if any.
    func take() -> Batch? {
        lock.lock()
        defer { lock.unlock() }
        return batches.popLast()
    }
}

/// Reads a file line by line in large blocks (no per-line system call).
public enum ScenarioReader {
    public struct ReadError: Error, CustomStringConvertible {
        public let description: String

        init(description: String) { self.description = description }

        /// Any error of reading, as a `ReadError`.
        init(_ error: any Error) { description = (error as? ReadError)?.description ?? "\(error)" }

        /// `cannot <action> 'path': <the system's reason>`, from `errno`.
        static func system(_ action: String, _ path: String) -> ReadError {
            ReadError(description: "cannot \(action) '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// Calls `body(lineNumber, byteOffset, bytes)` for each line that is not blank; a final line without
    /// a newline counts. `bytes` excludes the newline (and a carriage return before it). With `range`,
    /// only those bytes of the file are read (it should start at a line start; lines are numbered from
    /// there). Returns how many lines, blank ones included, were read.
    @discardableResult
    static func forEachLine(
        path: String, range: Range<Int>? = nil, _ body: (Int, Int, UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ReadError.system("open", path) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var filled = 0  // bytes in buffer
        var base = range?.lowerBound ?? 0  // file offset of buffer[0]
        var remaining = range.map { $0.count } ?? Int.max  // bytes of the range not read yet
        var number = 0
        var eof = false
        while !eof || filled > 0 {
            if !eof {
                // a very long line
                if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
                let offset = base + filled
                let n = buffer.withUnsafeMutableBytes {
                    pread(fd, $0.baseAddress! + filled, min($0.count - filled, remaining), off_t(offset))
                }
                if n < 0 { throw ReadError.system("read", path) }
                if n == 0 {
                    eof = true
                } else {
                    filled += n
                    remaining -= n
                }
            }
            var consumed = 0
            try buffer.withUnsafeBytes { raw in
                var start = 0
                while start < filled {
                    guard let nl = newline(in: raw, from: start, to: filled) ?? (eof ? filled : nil) else { break }
                    number += 1
                    var end = nl
                    if end > start, raw[end - 1] == 0x0D { end -= 1 }
                    let line = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                    if !isBlank(line) { try body(number, base + start, line) }
                    start = nl + 1
                }
                consumed = min(start, filled)
            }
            if consumed > 0 {
                buffer.withUnsafeMutableBytes { b in
                    if filled > consumed {
                        b.baseAddress!.copyMemory(from: b.baseAddress! + consumed, byteCount: filled - consumed)
                    }
                }
                filled -= consumed
                base += consumed
            }
            if eof && consumed == 0 { break }
        }
        return number
    }

    /// `length` bytes of the file at `offset` (fewer at its end).
    static func read(path: String, offset: Int, length: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ReadError.system("open", path) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = bytes.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, length - done, off_t(offset + done))
            }
            if n < 0 { throw ReadError.system("read", path) }
            if n == 0 { break }
            done += n
        }
        bytes.removeLast(length - done)
        return bytes
    }

    /// The file's size in bytes.
    static func size(path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw ReadError.system("open", path) }
        return Int(st.st_size)
    }

    /// The offset of the first line that starts at or after `offset` (> 0), or nil when none does.
    static func lineStart(path: String, near offset: Int) throws -> Int? {
        var at = offset - 1  // a line starts after a newline
        while true {
            let block = try read(path: path, offset: at, length: 1 << 16)
            if block.isEmpty { return nil }
            if let i = block.firstIndex(of: 0x0A) { return at + i + 1 }
            at += block.count
        }
    }

    static func readAll(path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(description: "cannot read '\(path)'")
        }
        return [UInt8](data)
    }

    /// The index of the first newline in `raw[from..<to]`, found by `memchr`.
    static func newline(in raw: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let p = memchr(raw.baseAddress! + from, 0x0A, to - from) else { return nil }
        return raw.baseAddress!.distance(to: UnsafeRawPointer(p))
    }

    static func isBlank(_ b: UnsafeRawBufferPointer) -> Bool {
        for c in b where c != 0x20 && c != 0x09 { return false }
        return true
    }
}

/// Standard output through a reused buffer, written in large blocks.
struct OutputBuffer {
    var encoder: SimulationEncoder
    var bytes: [UInt8] = []
    let threshold = 1 << 18

    init(encoder: SimulationEncoder) {
        self.encoder = encoder
        bytes.reserveCapacity(threshold + 65_536)
    }

    mutating func write(_ output: inout SimulationOutput) {
        encoder.write(&output, into: &bytes)
        if bytes.count >= threshold { flush() }
    }

    mutating func flush() {
        var done = 0
        bytes.withUnsafeBytes { b in
            while done < b.count {
                let n = writeStandardOutput(b.baseAddress! + done, b.count - done)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    break
                }
                done += n
            }
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

private func writeStandardOutput(_ p: UnsafeRawPointer, _ n: Int) -> Int { write(1, p, n) }
