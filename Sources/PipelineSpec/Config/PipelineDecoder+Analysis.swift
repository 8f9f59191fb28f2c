import PipelineYAML

/// Canary and watch stages: steps, analyses and their rules, bound expressions.
extension PipelineDecoder {
    package mutating func decodeCanary(_ fields: Fields<StageKey>, label: String, stage: String) -> CanarySpec {
        var spec = CanarySpec(
            traffic: Script(source: "", mark: fields.mark), trafficTimeout: FormatDefaults.trafficTimeout, steps: [], bake: FormatDefaults.canaryBake,
            interval: FormatDefaults.canaryInterval, failureLimit: FormatDefaults.canaryFailureLimit, analysis: [])
        if let t = fields[.traffic], let s = script(t, "'traffic' of \(label)") { spec.traffic = s }
        if let t = fields[.trafficTimeout], let span = reader.duration(t, "'traffic-timeout' of \(label)", positive: true) { spec.trafficTimeout = span }
        if let s = fields[.steps], let items = reader.list(s, "'steps' of \(label)") {
            if items.isEmpty { reader.error(reader[s].mark, "'steps' of \(label) is empty; write e.g. [10, 50, 100]") }
            var last: Int?
            for item in items {
                guard let step = decodeStep(item, label: label) else { continue }
                if let percent = step.percent {
                    if let last, percent <= last {
                        reader.error(reader[item].mark, "canary steps must increase: \(percent) follows \(last)")
                    }
                    last = percent
                }
                spec.steps.append(step)
            }
        }
        if let b = fields[.bake], let span = reader.duration(b, "'bake' of \(label)") { spec.bake = span }
        if let i = fields[.interval], let span = reader.duration(i, "'interval' of \(label)", positive: true) { spec.interval = span }
        if let f = fields[.failureLimit], let n = reader.int(f, "'failure-limit' of \(label)", in: 1...FormatLimits.maxFailureLimit) {
            spec.failureLimit = n
        }
        if let a = fields[.analysis] { spec.analysis = decodeAnalyses(a, label: label, stage: stage) }
        return spec
    }

    /// `10`, `{percent: 50, bake: 15m}`, `{pause: true}`, `{percent: 50, pause: true}`.
    package mutating func decodeStep(_ id: NodeID, label: String) -> CanaryStep? {
        let what = "each canary step (a traffic percentage)"
        guard reader[id].kind == .mapping else {
            guard let percent = reader.int(id, what, in: 1...100) else { return nil }
            return CanaryStep(percent: percent)
        }
        guard let fields = reader.fields(id, "a step of \(label)", CanaryStepKey.self) else { return nil }
        var step = CanaryStep(percent: nil)
        if let p = fields[.percent] { step.percent = reader.int(p, "'percent' of a step of \(label)", in: 1...100) }
        if let b = fields[.bake], let span = reader.duration(b, "'bake' of a step of \(label)") { step.bake = span }
        if let p = fields[.pause], let value = reader.bool(p, "'pause' of a step of \(label)") { step.pause = value }
        if fields[.percent] == nil, !step.pause {
            reader.error(fields.mark, "a step of \(label) needs 'percent', 'pause: true' or both")
            return nil
        }
        return step
    }

    package mutating func decodeWatch(_ fields: Fields<StageKey>, label: String, stage: String) -> WatchSpec {
        var spec = WatchSpec(
            duration: .minutes(60), interval: FormatDefaults.watchInterval, failureLimit: FormatDefaults.canaryFailureLimit, analysis: [], baseline: nil)
        if let d = fields[.duration], let span = reader.duration(d, "'duration' of \(label)", positive: true) { spec.duration = span }
        if let i = fields[.interval], let span = reader.duration(i, "'interval' of \(label)", positive: true) { spec.interval = span }
        if let f = fields[.failureLimit], let n = reader.int(f, "'failure-limit' of \(label)", in: 1...FormatLimits.maxFailureLimit) {
            spec.failureLimit = n
        }
        if let b = fields[.baseline], let name = reader.string(b, "'baseline' of \(label)") { spec.baseline = name }
        if let a = fields[.analysis] {
            spec.analysis = decodeAnalyses(a, label: label, stage: stage)
            if reader[a].kind == .sequence, reader.document.items(of: a).isEmpty {
                reader.error(reader[a].mark, "'analysis' of \(label) is empty: a watch must analyse something")
            }
        }
        if spec.baseline == nil {
            for metric in spec.analysis where metric.usesBaseline {
                reader.error(
                    metric.mark,
                    "metric '\(metric.name)' of \(label) is relative to a baseline, but the watch names none; add 'baseline: CANARY-ID' or use absolute bounds")
            }
        }
        return spec
    }

    /// A watch's `baseline` names an earlier canary that analyses every relative metric of the watch.
    package mutating func checkWatchBaselines(_ stages: [Stage]) {
        // Most files have no watch stage with a baseline: then nothing is built.
        guard stages.contains(where: { if case .watch(let spec) = $0.spec { spec.baseline != nil } else { false } }) else { return }
        // The first stage of each id, by index (not a copy of every stage).
        var firstIndex: [String: Int] = [:]
        firstIndex.reserveCapacity(stages.count)
        for (i, stage) in stages.enumerated() where firstIndex[stage.id] == nil { firstIndex[stage.id] = i }
        let byID = { (id: String) -> Stage? in firstIndex[id].map { stages[$0] } }
        func ancestors(_ id: String) -> Set<String> {
            var seen = Set<String>()
            var queue = byID(id)?.needs ?? []
            while let next = queue.popLast() {
                if seen.insert(next).inserted { queue += byID(next)?.needs ?? [] }
            }
            return seen
        }
        for stage in stages {
            guard case .watch(let spec) = stage.spec, let name = spec.baseline else { continue }
            let mark = stage.mark(of: StageKey.baseline.rawValue)
            guard let canary = byID(name), case .canary(let canarySpec) = canary.spec else {
                let canaries = stages.filter { $0.kind == .canary }.map(\.id)
                reader.error(
                    mark,
                    "'baseline' of stage '\(stage.id)' must name a canary stage, found '\(name)'" + Suggestion.didYouMean(name, among: canaries))
                continue
            }
            if !ancestors(stage.id).contains(name) {
                reader.error(mark, "stage '\(stage.id)' takes its baseline from canary '\(name)' but does not need it; add it to 'needs'")
            }
            let measured = Set(canarySpec.analysis.filter(\.usesBaseline).map(\.name))
            for metric in spec.analysis where metric.usesBaseline && !measured.contains(metric.name) {
                reader.error(
                    metric.mark,
                    "metric '\(metric.name)' of stage '\(stage.id)' is relative, but canary '\(name)' measures no baseline of it (its relative metrics: \(measured.isEmpty ? "none" : measured.sorted().map { "'\($0)'" }.joined(separator: ", ")))"
                )
            }
        }
    }

    package mutating func decodeAnalyses(_ id: NodeID, label: String, stage: String) -> [CanaryMetric] {
        guard let items = reader.list(id, "'analysis' of \(label)") else { return [] }
        var names = Set<String>()
        var metrics: [CanaryMetric] = []
        for item in items {
            guard let metric = decodeMetric(item, label: label, stage: stage) else { continue }
            if !names.insert(metric.name).inserted {
                reader.error(metric.mark, "metric '\(metric.name)' of \(label) is defined twice")
            }
            metrics.append(metric)
        }
        return metrics
    }

    package mutating func decodeMetric(_ id: NodeID, label: String, stage: String) -> CanaryMetric? {
        guard let fields = reader.fields(id, "a metric of \(label)", AnalysisKey.self) else { return nil }
        reader.require(fields, [.name], in: "a metric of \(label)")
        let name = fields[.name].flatMap { reader.string($0, "'name' of a metric") } ?? ""
        let what = name.isEmpty ? "a metric of \(label)" : "metric '\(name)' of \(label)"
        if fields[.max] == nil, fields[.min] == nil {
            reader.error(fields.mark, "\(what) needs a bound: 'max', 'min' or both")
        }
        let max = fields[.max].flatMap { bound($0, "'max' of \(what)") }
        let min = fields[.min].flatMap { bound($0, "'min' of \(what)") }
        var rules = AnalysisRules()
        if let f = fields[.failureLimit], let n = reader.int(f, "'failure-limit' of \(what)", in: 1...FormatLimits.maxFailureLimit) { rules.failureLimit = n }
        if let f = fields[.sustained], let span = reader.duration(f, "'for' of \(what)", positive: true) { rules.sustained = span }
        if let c = fields[.consecutiveSuccesses], let n = reader.int(c, "'consecutive-successes' of \(what)", in: 1...FormatLimits.maxFailureLimit) {
            rules.consecutiveSuccesses = n
        }
        if let n = fields[.onNoData], let text = reader.string(n, "'on-no-data' of \(what)") {
            let names = NoDataPolicy.allCases.map(\.rawValue)
            if let policy = NoDataPolicy(rawValue: text) {
                rules.onNoData = policy
            } else {
                reader.error(
                    reader[n].mark,
                    "'on-no-data' of \(what) must be one of: \(names.joined(separator: ", ")), found '\(text)'" + Suggestion.didYouMean(text, among: names))
            }
        }
        if let l = fields[.inconclusiveLimit], let n = reader.int(l, "'inconclusive-limit' of \(what)", in: 1...FormatLimits.maxFailureLimit) {
            rules.inconclusiveLimit = n
        }
        var timeout = FormatDefaults.analysisTimeout
        let sources = [AnalysisKey.run, .http, .prometheus].filter { fields[$0] != nil }
        guard sources.count == 1 else {
            reader.error(
                fields.mark,
                sources.isEmpty
                    ? "\(what) needs 'run' (a command printing one number), 'http' or 'prometheus'"
                    : "\(what) has \(sources.map { "'\($0.rawValue)'" }.joined(separator: " and ")); give exactly one")
            return nil
        }
        if let t = fields[.timeout] {
            if fields[.run] == nil {
                reader.error(fields.mark(of: .timeout)!, "\(what): 'timeout' applies to a 'run' script; put the timeout of '\(sources[0].rawValue)' inside it")
            } else if let span = reader.duration(t, "'timeout' of \(what)", positive: true) {
                timeout = span
            }
        }
        let source: CanaryMetric.Source
        if let r = fields[.run] {
            guard let s = script(r, "'run' of \(what)") else { return nil }
            source = .command(s)
        } else if let h = fields[.http] {
            guard let http = reader.fields(h, "'http' of \(what)", AnalysisHTTPKey.self) else { return nil }
            reader.require(http, [.url, .json], in: "'http' of \(what)")
            let address = http[.url].flatMap { url($0, "'http.url' of \(what)", stage: stage) }
            let path = http[.json].flatMap { reader.string($0, "'http.json' of \(what)") }
            var timeout = FormatDefaults.httpTimeout
            if let t = http[.timeout], let span = reader.duration(t, "'http.timeout' of \(what)", positive: true) { timeout = span }
            guard let address, let path else { return nil }
            source = .http(url: address, jsonPath: path, timeout: timeout)
        } else {
            guard let p = reader.fields(fields[.prometheus]!, "'prometheus' of \(what)", AnalysisPrometheusKey.self) else { return nil }
            reader.require(p, [.url, .query], in: "'prometheus' of \(what)")
            let address = p[.url].flatMap { url($0, "'prometheus.url' of \(what)", stage: stage) }
            let query = p[.query].flatMap { template($0, "'prometheus.query' of \(what)", stage: stage) }
            var timeout = FormatDefaults.prometheusTimeout
            if let t = p[.timeout], let span = reader.duration(t, "'prometheus.timeout' of \(what)", positive: true) { timeout = span }
            guard let address, let query else { return nil }
            if query.raw.allSatisfy({ $0 == " " }) {
                reader.error(reader[p[.query]!].mark, "'prometheus.query' of \(what) is empty")
            }
            source = .prometheus(PrometheusQuery(url: address, query: query, timeout: timeout))
        }
        return CanaryMetric(name: name, source: source, max: max, min: min, rules: rules, timeout: timeout, mark: fields.mark)
    }

    /// A bound: a number, `baseline * N`, `baseline + N`, `baseline - N`, or `max(…)` / `min(…)` of
    /// bounds; a problem is reported at the character where it is.
    package mutating func bound(_ id: NodeID, _ what: String) -> Bound? {
        let node = reader[id]
        if node.kind == .scalar, node.style == .plain, let value = Double(node.value), value.isFinite { return .absolute(value) }
        guard node.kind == .scalar, !node.isNull else {
            reader.mismatch(id, what, expected: "a number or 'baseline * N'")
            return nil
        }
        var parser = BoundParser(text: Array(node.value.utf8))
        switch parser.parse() {
        case .success(let bound): return bound
        case .failure(let problem):
            reader.error(
                markInside(id, offset: problem.offset),
                "\(what): '\(node.value)' is not a bound: \(problem.message); write a number, 'baseline * 1.5', 'baseline + 0.2' or 'max(baseline * 1.5, 0.01)'"
            )
            return nil
        }
    }
}

/// Parses bound expressions (``Bound``), reporting where a problem is.
struct BoundParser {
    struct Problem: Error {
        var offset: Int
        var message: String
    }

    let text: [UInt8]
    var at = 0

    init(text: [UInt8]) { self.text = text }

    mutating func parse() -> Result<Bound, Problem> {
        do {
            let bound = try expression()
            skipSpaces()
            if at < text.count {
                let start = at
                let name = word()
                throw Problem(offset: start, message: "unexpected '\(name.isEmpty ? character : name)'")
            }
            return .success(bound)
        } catch let problem as Problem {
            return .failure(problem)
        } catch {
            return .failure(Problem(offset: at, message: "\(error)"))
        }
    }

    private var character: String { at < text.count ? String(decoding: [text[at]], as: UTF8.self) : "end" }

    private mutating func skipSpaces() { while at < text.count, text[at] == UInt8(ascii: " ") { at += 1 } }

    private mutating func word() -> String {
        skipSpaces()
        let start = at
        while at < text.count, (text[at] >= UInt8(ascii: "a") && text[at] <= UInt8(ascii: "z")) { at += 1 }
        return String(decoding: text[start..<at], as: UTF8.self)
    }

    private mutating func expect(_ c: Character) throws {
        skipSpaces()
        guard at < text.count, text[at] == c.asciiValue! else {
            throw Problem(offset: at, message: at < text.count ? "expected '\(c)', found '\(character)'" : "expected '\(c)' before the end")
        }
        at += 1
    }

    private mutating func number() throws -> Double {
        skipSpaces()
        let start = at
        while at < text.count,
            (text[at] >= UInt8(ascii: "0") && text[at] <= UInt8(ascii: "9")) || text[at] == UInt8(ascii: ".")
                || text[at] == UInt8(ascii: "e") || (at == start && text[at] == UInt8(ascii: "-"))
        {
            at += 1
        }
        guard at > start, let value = Double(String(decoding: text[start..<at], as: UTF8.self)), value.isFinite else {
            throw Problem(
                offset: start,
                message: start < text.count ? "expected a number, found '\(String(decoding: [text[start]], as: UTF8.self))'" : "expected a number")
        }
        return value
    }

    private mutating func expression() throws -> Bound {
        skipSpaces()
        let start = at
        let name = word()
        switch name {
        case "max", "min":
            try expect("(")
            var terms = [try expression()]
            skipSpaces()
            while at < text.count, text[at] == UInt8(ascii: ",") {
                at += 1
                terms.append(try expression())
                skipSpaces()
            }
            try expect(")")
            guard terms.count >= 2 else { throw Problem(offset: start, message: "'\(name)(…)' needs at least two bounds, separated by commas") }
            return name == "max" ? .greatest(terms) : .least(terms)
        case "baseline":
            skipSpaces()
            guard at < text.count, let op = [UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-")].first(where: { $0 == text[at] }) else {
                return .baselineTimes(1)
            }
            at += 1
            skipSpaces()
            let operand = at
            let n = try number()
            if op == UInt8(ascii: "*") {
                guard n > 0 else { throw Problem(offset: operand, message: "the factor must be greater than 0") }
                return .baselineTimes(n)
            }
            return .baselinePlus(op == UInt8(ascii: "+") ? n : -n)
        case "":
            return .absolute(try number())
        default:
            throw Problem(offset: start, message: "unknown word '\(name)' (use 'baseline', 'max' or 'min')")
        }
    }
}
