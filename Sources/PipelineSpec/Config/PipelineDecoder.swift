import PipelineYAML

/// Turns a located YAML document into a typed ``Pipeline``, collecting every problem.
///
/// References (`${{ … }}`) are parsed here and checked later, once the graph is known.
package struct PipelineDecoder {
    /// A reference written in the file, to check against the graph.
    package struct PendingReference {
        package var reference: Reference
        package var mark: Mark
        /// The stage whose field holds it; nil for top-level `env` (and a parameter value).
        package var stage: String?
        /// The stage file it is written in (nil: the file being decoded at the top).
        package var origin: StageOrigin? = nil
        /// Written in a parameter value (an include's `with`, a parameter's `default`).
        package var inParameter = false
        /// Written in an `if:` (without `${{ }}`): messages name it as written.
        package var inCondition = false
    }

    package var reader: ConfigReader
    package var references: [PendingReference] = []
    package var secretsDeclared: Set<String> = []
    /// How a stage file's ids and parameters are read (nil: a pipeline file).
    package var scope: StageFileScope?
    /// Shared by every decoder of one pipeline: files read, expansions so far (nil: `include` is refused).
    package var includeReading: IncludeReading?
    /// The files from the pipeline file down to this one, normalized: an include of one of them is a cycle.
    package var chain: [String] = []
    /// The `include` entries expanded so far, in the order read (nested ones before their parent).
    package var includes: [IncludeRecord] = []
    /// The document as read, before static references were substituted: scripts are checked on it.
    package private(set) var original: YAMLDocument
    /// What `--env` and `--input` chose.
    package var choice: StaticChoice
    /// Declared inputs, and the value of each for this load.
    package var inputs: [PipelineInput] = []
    package var inputValues: [(name: String, value: String)] = []
    /// Declared environment names, and the chosen one's `env`.
    package var environments: [String] = []
    package var environmentEnv: [EnvEntry] = []
    package var environmentFields: Fields<EnvironmentKey>?
    /// What each static reference (`inputs.NAME`, `environment.name`, …) stands for.
    package var statics: [String: StaticValue] = [:]

    /// The keys of the last stage decoded, as ordinals and as names: the next stage written with
    /// the same keys in the same order shares the array of names (see ``KeyMarks``).
    private var lastStageKeys: (ordinals: [Int], names: [String]) = ([], [])

    package static let defaultShell = FormatDefaults.shell
    package static let defaultTimeout = FormatDefaults.timeout

    package init(
        document: YAMLDocument, path: String, includedFrom: [IncludeSite] = [], choice: StaticChoice = StaticChoice(environment: nil, inputs: [])
    ) {
        reader = ConfigReader(document: document, path: path, includedFrom: includedFrom)
        original = document
        self.choice = choice
        chain = [IncludeReading.resolve(path, from: "")]
    }

    /// Drops the documents once the file is decoded (diagnostics keep marks, not nodes), so a
    /// large file's arena is freed before the graph and the lint are built. Nothing may read
    /// ``reader``'s document or ``original`` after this.
    package mutating func releaseDocuments() {
        reader.document = .released
        original = .released
    }

    /// Decodes the whole file; returns nil when the top level cannot be read at all.
    package mutating func decode() -> Pipeline? {
        let root = reader.document.root
        guard reader[root].kind == .mapping else {
            reader.error(reader[root].mark, "a pipeline file must be a mapping with 'version', 'name' and 'stages', found \(reader.describe(root))")
            return nil
        }
        if let marker = Self.stageFileMarker(reader.document) {
            reader.error(
                reader[marker].mark,
                "this is a stage file ('kind: stages'): include it from a pipeline with '- include: PATH'; only 'pipeline validate' reads it alone")
            return nil
        }
        guard let top = reader.fields(root, "the pipeline", PipelineKey.self) else { return nil }
        reader.require(top, [.version, .name, .stages], in: "the pipeline")

        if let id = top[.version] {
            let node = reader[id]
            if node.kind == .scalar, node.style == .plain, reader.scalar(id, is: "1") {
                // supported
            } else {
                let written = reader.value(id)
                reader.error(node.mark, "unsupported version '\(written.isEmpty ? reader.describe(id) : written)'; supported versions: 1")
            }
        }
        var name = ""
        if let id = top[.name], let value = reader.string(id, "'name'") {
            if value.isEmpty || !value.allSatisfy(Self.isNameCharacter) {
                reader.error(reader[id].mark, "'name' must match [A-Za-z0-9._-]+, found '\(value)'")
            }
            name = value
        }
        var secrets: [String] = []
        if let id = top[.secrets], let items = reader.strings(id, "'secrets'") {
            for (secret, mark) in items {
                if !Self.isEnvName(secret) {
                    reader.error(mark, "secret '\(secret)' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
                } else if !secretsDeclared.insert(secret).inserted {
                    reader.error(mark, "secret '\(secret)' is declared twice")
                } else {
                    secrets.append(secret)
                }
            }
        }
        // Inputs and the environment are substituted before anything that may read them is decoded.
        guard resolveStatics(top) else { return nil }
        let description = top[.description].flatMap { reader.string($0, "'description'") }
        var env = top[.env].map { decodeEnv($0, what: "'env'", stage: nil) } ?? []
        // The environment's variables win over the top-level ones of the same name.
        for entry in environmentEnv {
            if let i = env.firstIndex(where: { $0.name == entry.name }) { env[i] = entry } else { env.append(entry) }
        }
        let release = top[.release].flatMap { decodeRelease($0) }

        var shell = Self.defaultShell
        var timeout = Self.defaultTimeout
        var retry = RetryPolicy.none
        if let id = top[.defaults], let defaults = reader.fields(id, "'defaults'", DefaultsKey.self) {
            if let t = defaults[.timeout], let span = reader.duration(t, "'defaults.timeout'", positive: true) { timeout = span }
            if let r = defaults[.retry], let policy = decodeRetry(r, what: "'defaults.retry'", base: .none) { retry = policy }
            if let s = defaults[.shell], let argv = decodeShell(s, what: "'defaults.shell'") { shell = argv }
        }

        var stages: [Stage] = []
        if let id = top[.stages], let items = reader.list(id, "'stages'") {
            if items.isEmpty {
                reader.error(reader[id].mark, "'stages' is empty; a pipeline needs at least one stage")
            }
            stages = decodeStageList(items, previous: nil, defaults: StageDefaults(timeout: timeout, retry: retry, shell: shell))
        }
        checkWatchBaselines(stages)
        var pipeline = Pipeline(
            version: 1, name: name, description: description, env: env, secrets: secrets,
            shell: shell, stages: stages, path: reader.path, includes: includes)
        pipeline.inputs = inputs
        pipeline.inputValues = inputValues
        pipeline.environments = environments
        pipeline.release = release
        if let chosen = choice.environment, let id = top[.environments],
            let node = reader.document.entries(of: id).first(where: { reader.scalar($0.key, is: chosen) })?.value
        {
            pipeline.environment = decodeEnvironment(node, name: chosen, into: &pipeline, releaseMark: top.mark(of: .release))
        }
        if let n = top[.notify] { pipeline.notify = decodeNotify(n) }
        if let r = top[.rollback] { pipeline.rollbackHooks = decodeRollbackHooks(r) }
        return pipeline
    }

    // MARK: - Stages

    /// Decodes one item of `stages` and appends the stage to `stages` (appended in place: a
    /// `Stage` returned as an optional was copied, a retain of each field, and destroyed).
    /// - Returns: whether a stage was appended.
    package mutating func decodeStage(
        _ id: NodeID, previous: String?, timeout: TimeSpan, retry: RetryPolicy, shell: [String], into stages: inout [Stage]
    ) -> Bool {
        guard reader[id].kind == .mapping else {
            reader.mismatch(id, "each item of 'stages'", expected: "a mapping with 'id' and 'run'")
            return false
        }
        // Read id and kind first: every other message names them.
        var stageID = ""
        var kind = StageKind.command
        for (keyID, valueID) in reader.document.entries(of: id) {
            // By length first: most keys are neither, and are passed over without a lookup.
            let length = reader[keyID].byteCount
            guard length == 2 || length == 4 else { continue }
            let key = reader.document.withBytes(of: keyID) { StageKey.table.key($0) }
            if key == .id {
                if let value = reader.string(valueID, "'id'") {
                    stageID = scoped(value)
                    if !Self.isStageID(value) {
                        reader.error(reader[valueID].mark, "stage id '\(value)' must match [a-z0-9][a-z0-9_-]* and be at most 63 characters")
                    } else if let prefix = scope?.prefix, !Self.isStageID(stageID) {
                        reader.error(reader[valueID].mark, "stage id '\(stageID)' (prefix '\(prefix)' and '\(value)') is longer than 63 characters")
                    }
                }
            } else if key == .kind {
                if let value = reader.string(valueID, "'kind'") {
                    if let known = StageKind.table.key(value) {
                        kind = known
                    } else {
                        let names = StageKind.allCases.map(\.rawValue)
                        reader.error(
                            reader[valueID].mark,
                            "unknown stage kind '\(value)'; expected one of: \(names.joined(separator: ", "))" + Suggestion.didYouMean(value, among: names))
                        return false
                    }
                }
            }
        }
        // The stage's name in messages, made only for a message (most stages have none).
        let named = stageID
        func label() -> String { named.isEmpty ? "a stage" : "stage '\(named)'" }
        let accepted = StageKey.accepted(by: kind)
        guard
            let fields = reader.fields(
                id, label(), StageKey.self, allowed: accepted.allowed, allowedSet: accepted.allowedSet,
                misplaced: { key in
                    let owners = key.kinds.map { "'\($0.rawValue)'" }.joined(separator: ", ")
                    return "'\(key.rawValue)' does not apply to a '\(kind.rawValue)' stage; it belongs to \(owners) stages"
                })
        else { return false }
        reader.require(fields, accepted.required, in: label())
        if kind == .verify, fields[.http] == nil, fields[.smoke] == nil {
            reader.error(fields.mark, "\(label()) needs 'http', 'smoke' or both: a verify stage must check something")
        }

        // Each field is read into a local, in the order written here (the order of the messages),
        // and the stage is built once at the end: a field set on a `Stage` already in the list
        // costs a uniqueness check and a bounds check (and a local `Stage`, a copy of it).
        let keyMarks = KeyMarks(keys: stageKeyNames(fields), packedMarks: fields.entries.map { KeyMarks.pack($0.mark) })
        let name = fields[.name].flatMap { reader.string($0, "'name' of \(label())") }
        let description = fields[.description].flatMap { reader.string($0, "'description' of \(label())") }
        // `needs` defaults to the previous stage, set below unless written (no array built twice).
        var needs: [String] = []
        var needMarks: [Mark] = []
        var needsWritten = false
        if let n = fields[.needs], let list = reader.list(n, "'needs' of \(label())") {
            // As `strings` would read them, into the stage's own arrays (no list of pairs between);
            // one need (the most common) as one-element arrays, the cheapest to make.
            if list.count == 1, let item = list.first, let need = reader.string(item, "each item of 'needs' of \(label())") {
                needs = [scoped(need)]
                needMarks = [reader[item].mark]
            } else if list.count > 1 {
                needs.reserveCapacity(list.count)
                needMarks.reserveCapacity(list.count)
            }
            var written: [(String, Mark)] = []
            for item in list where list.count > 1 {
                guard let need = reader.string(item, "each item of 'needs' of \(label())") else { continue }
                needs.append(scoped(need))
                needMarks.append(reader[item].mark)
                // Most stages need one stage or none: no set to build.
                if list.count > 1 { written.append((need, reader[item].mark)) }
            }
            needsWritten = true
            // Each need after the first of its name; a short list is compared pairwise (no set to hash).
            if written.count > 16 {
                var seen = Set<String>()
                for (need, mark) in written where !seen.insert(need).inserted {
                    reader.error(mark, "\(label()) lists '\(need)' twice in 'needs'")
                }
            } else if written.count > 1 {
                for i in 1..<written.count where written[..<i].contains(where: { $0.0 == written[i].0 }) {
                    reader.error(written[i].1, "\(label()) lists '\(written[i].0)' twice in 'needs'")
                }
            }
        } else if let previous {
            needs = [previous]
            needMarks = [fields.mark]
        }
        let run = fields[.run].flatMap { script($0, "'run' of \(label())") }
        let rollback = fields[.rollback].flatMap { script($0, "'rollback' of \(label())") }
        var stageTimeout = timeout
        if let t = fields[.timeout], let span = reader.duration(t, "'timeout' of \(label())", positive: true) { stageTimeout = span }
        var stageRetry = retry
        if let r = fields[.retry], let policy = decodeRetry(r, what: "'retry' of \(label())", base: retry) { stageRetry = policy }
        var env: [EnvEntry] = []
        if let e = fields[.env] { env = decodeEnv(e, what: "'env' of \(label())", stage: stageID) }
        var gate: Gate?
        if let g = fields[.gate] { gate = decodeGate(g, label: label(), stage: stageID) }
        var outputs: [String] = []
        if let o = fields[.outputs], let items = reader.strings(o, "'outputs' of \(label())") {
            var seen = Set<String>()
            for (output, mark) in items {
                if !Self.isEnvName(output) {
                    reader.error(mark, "output '\(output)' of \(label()) must match [A-Za-z_][A-Za-z0-9_]*")
                } else if !seen.insert(output).inserted {
                    reader.error(mark, "output '\(output)' of \(label()) is declared twice")
                } else {
                    outputs.append(output)
                }
            }
        }
        var idempotent = true
        if let i = fields[.idempotent], let value = reader.bool(i, "'idempotent' of \(label())") { idempotent = value }
        var stageShell = shell
        if let s = fields[.shell], let argv = decodeShell(s, what: "'shell' of \(label())") { stageShell = argv }
        var allow: [String] = []
        if let a = fields[.allow] { allow = decodeAllow(a, label: label()) }
        let spec = decodeSpec(kind, fields, label: label(), stage: stageID)
        var condition: StageCondition?
        if let c = fields[.if] { condition = decodeCondition(c, label: label(), stage: stageID) }
        stages.append(
            Stage(
                id: stageID, name: name, description: description, kind: kind, needs: needs, needMarks: needMarks,
                needsWritten: needsWritten, run: run, rollback: rollback, timeout: stageTimeout, retry: stageRetry, env: env, boxedGate: gate.map(Boxed.init),
                outputs: outputs, idempotent: idempotent, shell: stageShell, spec: spec, mark: fields.mark, keyMarks: keyMarks,
                allow: allow, origin: scope?.origin, boxedCondition: condition.map(Boxed.init)))
        return true
    }

    /// The names of a stage's keys in the order written, shared with the stage before when it has
    /// the same keys in the same order.
    private mutating func stageKeyNames(_ fields: Fields<StageKey>) -> [String] {
        let entries = fields.entries
        let same =
            entries.count == lastStageKeys.ordinals.count
            && entries.indices.allSatisfy { entries[$0].key.ordinal == lastStageKeys.ordinals[$0] }
        if !same { lastStageKeys = (entries.map(\.key.ordinal), entries.map(\.key.rawValue)) }
        return lastStageKeys.names
    }

    /// The kind-specific part of a stage. The label is made only for a kind that has fields of its own.
    package mutating func decodeSpec(_ kind: StageKind, _ fields: Fields<StageKey>, label makeLabel: @autoclosure () -> String, stage: String) -> KindSpec {
        switch kind {
        case .command: return .command
        case .backend: return .backend
        case .frontend: return .frontend
        default: break
        }
        let label = makeLabel()
        switch kind {
        case .command, .backend, .frontend: preconditionFailure("handled above")
        case .envPresync:
            var spec = EnvPresyncSpec(require: [], files: [], apply: nil)
            if let r = fields[.require], let items = reader.strings(r, "'require' of \(label)") {
                if items.isEmpty { reader.error(reader[r].mark, "'require' of \(label) is empty; list the variables the new version reads") }
                for (name, mark) in items where !Self.isEnvName(name) {
                    reader.error(mark, "'\(name)' in 'require' of \(label) is not an environment variable name")
                }
                spec.require = items.map(\.0)
            }
            if let f = fields[.files], let items = reader.strings(f, "'files' of \(label)") { spec.files = items.map(\.0) }
            spec.apply = fields[.apply].flatMap { script($0, "'apply' of \(label)") }
            return .envPresync(spec)
        case .infraPrecheck:
            var checks: [PrecheckCheck] = []
            if let c = fields[.checks], let items = reader.list(c, "'checks' of \(label)") {
                if items.isEmpty { reader.error(reader[c].mark, "'checks' of \(label) is empty") }
                var names = Set<String>()
                for item in items {
                    if let check = decodeCheck(item, label: label, stage: stage) {
                        if !names.insert(check.name).inserted {
                            reader.error(check.mark, "check '\(check.name)' of \(label) is defined twice")
                        }
                        checks.append(check)
                    }
                }
            }
            return .infraPrecheck(checks)
        case .migrate:
            var spec = MigrateSpec(backup: nil, restore: nil, lintPaths: [], lintAllow: [], reversible: true)
            spec.backup = fields[.backup].flatMap { script($0, "'backup' of \(label)") }
            spec.restore = fields[.restore].flatMap { script($0, "'restore' of \(label)") }
            if let r = fields[.reversible], let value = reader.bool(r, "'reversible' of \(label)") { spec.reversible = value }
            if let l = fields[.lint], let lint = reader.fields(l, "'lint' of \(label)", LintKey.self) {
                reader.require(lint, [.paths], in: "'lint' of \(label)")
                if let p = lint[.paths], let items = reader.strings(p, "'lint.paths' of \(label)") { spec.lintPaths = items.map(\.0) }
                if let a = lint[.allow], let items = reader.strings(a, "'lint.allow' of \(label)") {
                    let rules = MigrationRule.allCases.map(\.rawValue)
                    for (rule, mark) in items where MigrationRule(rawValue: rule) == nil {
                        reader.error(mark, "unknown migration lint rule '\(rule)'" + Suggestion.didYouMean(rule, among: rules))
                    }
                    spec.lintAllow = items.map(\.0)
                }
            }
            return .migrate(spec)
        case .canary:
            return .canary(decodeCanary(fields, label: label, stage: stage))
        case .watch:
            return .watch(decodeWatch(fields, label: label, stage: stage))
        case .verify:
            var spec = VerifySpec(http: nil, smoke: [])
            if let h = fields[.http] { spec.http = decodeVerifyProbe(h, label: label, stage: stage) }
            if let s = fields[.smoke] { spec.smoke = decodeSmoke(s, label: label) }
            return .verify(spec)
        case .blueGreen:
            return .blueGreen(decodeBlueGreen(fields, label: label, stage: stage))
        }
    }

    /// A health check mapping (`http` of verify and blue-green stages).
    package mutating func decodeVerifyProbe(_ h: NodeID, label: String, stage: String) -> VerifyProbe? {
        guard let http = reader.fields(h, "'http' of \(label)", VerifyHTTPKey.self) else { return nil }
        reader.require(http, [.url], in: "'http' of \(label)")
        var probe = VerifyProbe(
            url: Template(parts: [], raw: ""), expect: FormatDefaults.httpExpect, timeout: FormatDefaults.httpTimeout,
            interval: FormatDefaults.probeInterval, initialDelay: FormatDefaults.probeInitialDelay,
            failureThreshold: FormatDefaults.probeFailureThreshold, attempts: FormatDefaults.probeAttempts)
        if let u = http[.url], let url = url(u, "'http.url' of \(label)", stage: stage) { probe.url = url }
        if let e = http[.expect], let code = reader.int(e, "'http.expect' of \(label)", in: 100...599) { probe.expect = code }
        if let t = http[.timeout], let span = reader.duration(t, "'http.timeout' of \(label)", positive: true) { probe.timeout = span }
        if let i = http[.interval], let span = reader.duration(i, "'http.interval' of \(label)") { probe.interval = span }
        if let d = http[.initialDelay], let span = reader.duration(d, "'http.initial-delay' of \(label)") { probe.initialDelay = span }
        if let f = http[.failureThreshold], let n = reader.int(f, "'http.failure-threshold' of \(label)", in: 1...FormatLimits.maxFailureThreshold) {
            probe.failureThreshold = n
        }
        if let a = http[.attempts], let n = reader.int(a, "'http.attempts' of \(label)", in: 1...FormatLimits.maxProbeAttempts) { probe.attempts = n }
        return probe
    }

    /// A list of smoke-test scripts.
    package mutating func decodeSmoke(_ s: NodeID, label: String) -> [Script] {
        guard let items = reader.list(s, "'smoke' of \(label)") else { return [] }
        return items.compactMap { script($0, "each 'smoke' script of \(label)") }
    }

    package mutating func decodeCheck(_ id: NodeID, label: String, stage: String) -> PrecheckCheck? {
        guard let fields = reader.fields(id, "a check of \(label)", CheckKey.self) else { return nil }
        reader.require(fields, [.name], in: "a check of \(label)")
        let name = fields[.name].flatMap { reader.string($0, "'name' of a check") } ?? ""
        let what = name.isEmpty ? "a check of \(label)" : "check '\(name)' of \(label)"
        let probes = [CheckKey.run, .http, .tcp].filter { fields[$0] != nil }
        guard probes.count == 1 else {
            reader.error(
                fields.mark,
                probes.isEmpty
                    ? "\(what) needs one of 'run', 'http' or 'tcp'"
                    : "\(what) has \(probes.map { "'\($0.rawValue)'" }.joined(separator: " and ")); give exactly one")
            return nil
        }
        var timeout = FormatDefaults.checkTimeout
        if let t = fields[.timeout], let span = reader.duration(t, "'timeout' of \(what)", positive: true) { timeout = span }
        let probe: PrecheckCheck.Probe
        if let r = fields[.run] {
            guard let s = script(r, "'run' of \(what)") else { return nil }
            probe = .command(s)
        } else if let h = fields[.http] {
            guard let http = reader.fields(h, "'http' of \(what)", CheckHTTPKey.self) else { return nil }
            if fields[.timeout] != nil {
                reader.error(fields.mark(of: .timeout)!, "\(what): put the timeout of an HTTP check inside 'http'")
            }
            reader.require(http, [.url], in: "'http' of \(what)")
            var request = HTTPProbe(url: Template(parts: [], raw: ""), expect: FormatDefaults.httpExpect, timeout: FormatDefaults.httpTimeout)
            if let u = http[.url], let url = url(u, "'http.url' of \(what)", stage: stage) { request.url = url }
            if let e = http[.expect], let code = reader.int(e, "'http.expect' of \(what)", in: 100...599) { request.expect = code }
            if let t = http[.timeout], let span = reader.duration(t, "'http.timeout' of \(what)", positive: true) { request.timeout = span }
            probe = .http(request)
        } else {
            let t = fields[.tcp]!
            guard let target = reader.string(t, "'tcp' of \(what)") else { return nil }
            guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]),
                (1...65535).contains(port), colon != target.startIndex
            else {
                reader.error(reader[t].mark, "'tcp' of \(what) must be 'host:port', found '\(target)'")
                return nil
            }
            var host = String(target[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            probe = .tcp(host: host, port: port)
        }
        return PrecheckCheck(name: name, probe: probe, timeout: timeout, mark: fields.mark)
    }

    // MARK: - Shared pieces

    package mutating func decodeRetry(_ id: NodeID, what: @autoclosure () -> String, base: RetryPolicy) -> RetryPolicy? {
        let node = reader[id]
        if node.kind == .scalar {
            guard let attempts = reader.int(id, "\(what()) (attempts, the first included)", in: 1...FormatLimits.maxRetryAttempts) else { return nil }
            var policy = base
            policy.attempts = attempts
            return policy
        }
        guard let fields = reader.fields(id, what(), RetryKey.self) else { return nil }
        var policy = base
        if let a = fields[.attempts], let n = reader.int(a, "'attempts' of \(what())", in: 1...FormatLimits.maxRetryAttempts) { policy.attempts = n }
        if let d = fields[.delay], let span = reader.duration(d, "'delay' of \(what())") { policy.delay = span }
        if let b = fields[.backoff], let factor = reader.number(b, "'backoff' of \(what())") {
            if factor < 1 || factor > FormatLimits.maxBackoff {
                reader.error(
                    reader[b].mark, "'backoff' of \(what()) must be between 1.0 and \(formatNumber(FormatLimits.maxBackoff)), found \(reader.value(b))")
            } else {
                policy.backoff = factor
            }
        }
        if let m = fields[.maxDelay], let span = reader.duration(m, "'max-delay' of \(what())") { policy.maxDelay = span }
        if let j = fields[.jitter], let value = reader.bool(j, "'jitter' of \(what())") { policy.jitter = value }
        if policy.maxDelay < policy.delay, let m = fields.mark(of: .maxDelay) {
            reader.error(m, "'max-delay' of \(what()) (\(policy.maxDelay)) is shorter than 'delay' (\(policy.delay))")
        }
        return policy
    }

    package mutating func decodeGate(_ id: NodeID, label: String, stage: String) -> Gate? {
        guard let fields = reader.fields(id, "'gate' of \(label)", GateKey.self) else { return nil }
        var gate = Gate(approval: nil, window: nil, check: nil, wait: nil)
        if let a = fields[.approval] {
            if reader[a].kind == .mapping {
                if let approval = reader.fields(a, "'gate.approval' of \(label)", ApprovalKey.self) {
                    let message = approval[.message].flatMap { template($0, "'gate.approval.message' of \(label)", stage: stage) }
                    gate.approval = Approval(message: message)
                }
            } else if let needed = reader.bool(a, "'gate.approval' of \(label)"), needed {
                gate.approval = Approval(message: nil)
            }
        }
        if let w = fields[.window], let window = reader.fields(w, "'gate.window' of \(label)", WindowKey.self) {
            reader.require(window, [.hours], in: "'gate.window' of \(label)")
            var result = DeployWindow(days: [1, 2, 3, 4, 5], start: 0, end: 0, timezone: "UTC")
            if let d = window[.days], let items = reader.strings(d, "'gate.window.days' of \(label)") {
                var days: [Int] = []
                for (day, mark) in items {
                    if let index = DeployWindow.dayNames.firstIndex(of: day.lowercased()) {
                        if !days.contains(index + 1) { days.append(index + 1) }
                    } else {
                        reader.error(
                            mark,
                            "'\(day)' is not a day; use mon, tue, wed, thu, fri, sat, sun"
                                + Suggestion.didYouMean(day.lowercased(), among: DeployWindow.dayNames))
                    }
                }
                if items.isEmpty { reader.error(reader[d].mark, "'gate.window.days' of \(label) is empty: the stage could never start") }
                result.days = days.sorted()
            }
            if let h = window[.hours], let text = reader.string(h, "'gate.window.hours' of \(label)") {
                if let (start, end) = Self.hours(text), start != end {
                    result.start = start
                    result.end = end
                } else {
                    reader.error(reader[h].mark, "'gate.window.hours' of \(label) must be 'HH:MM-HH:MM' (e.g. '10:00-17:00'), found '\(text)'")
                }
            }
            if let z = window[.timezone], let zone = reader.string(z, "'gate.window.timezone' of \(label)") {
                if TimeZoneCatalog.isKnown(zone) {
                    result.timezone = zone
                } else {
                    reader.error(reader[z].mark, "unknown time zone '\(zone)'; use an IANA name like 'Asia/Tokyo' or 'UTC'")
                }
            }
            gate.window = result
        }
        gate.check = fields[.check].flatMap { script($0, "'gate.check' of \(label)") }
        if let w = fields[.wait], let span = reader.duration(w, "'gate.wait' of \(label)") { gate.wait = span }
        return gate
    }

    package mutating func decodeEnv(_ id: NodeID, what: String, stage: String?) -> [EnvEntry] {
        guard reader[id].kind == .mapping else {
            reader.mismatch(id, what, expected: "a mapping of NAME: value")
            return []
        }
        var entries: [EnvEntry] = []
        for (keyID, valueID) in reader.document.entries(of: id) {
            let key = (mark: reader[keyID].mark, value: reader.value(keyID))
            if !Self.isEnvName(key.value) {
                reader.error(key.mark, "'\(key.value)' in \(what) is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
                continue
            }
            if key.value.hasPrefix("PIPELINE_") {
                reader.error(key.mark, "'\(key.value)' in \(what): names starting with PIPELINE_ are set by the engine")
                continue
            }
            let value = reader[valueID]
            if secretsDeclared.contains(key.value), value.kind == .scalar,
                !reader.value(valueID).mayHoldReference || !reader.value(valueID).contains("${{")
            {
                reader.error(key.mark, "'\(key.value)' in \(what) is a declared secret; its value must come from the environment, never from the file")
                continue
            }
            guard value.kind == .scalar else {
                reader.mismatch(valueID, "'\(key.value)' in \(what)", expected: "a scalar value")
                continue
            }
            guard let template = template(valueID, "'\(key.value)' in \(what)", stage: stage) else { continue }
            if secretsDeclared.contains(key.value), template.references.isEmpty {
                // A parameter of an included file gave it a literal value.
                reader.error(key.mark, "'\(key.value)' in \(what) is a declared secret; its value must come from the environment, never from a file")
                continue
            }
            entries.append(EnvEntry(name: key.value, value: template, mark: key.mark))
        }
        return entries
    }

    package mutating func decodeShell(_ id: NodeID, what: @autoclosure () -> String) -> [String]? {
        guard let items = reader.strings(id, what()) else { return nil }
        guard !items.isEmpty, items[0].0.hasPrefix("/") else {
            reader.error(reader[id].mark, "\(what()) must be a list starting with an absolute path, e.g. ['/bin/bash', '-e', '-o', 'pipefail', '-c']")
            return nil
        }
        return items.map(\.0)
    }

    /// A shell script: references are refused, because a value pasted into shell text can become code.
    package mutating func script(_ id: NodeID, _ what: @autoclosure () -> String) -> Script? {
        guard let text = reader.string(id, what()) else { return nil }
        // On the node's bytes (the text's own): a `String`'s UTF-8 view is read a byte a call.
        if reader.document.withBytes(of: id, { $0.allSatisfy { $0 == 0x20 || $0 == 0x09 } }) {
            reader.error(reader[id].mark, "\(what()) is empty")
            return nil
        }
        // Checked as written: an input substituted into shell text would run as code just the same.
        // (A document without `${{` was not substituted: the text is as written.)
        let written = original.mayHoldReferences && original[id].kind == .scalar ? original.value(of: id) : text
        if written.mayHoldReference, let open = written.range(of: "${{") {
            let offset = written.distance(from: written.startIndex, to: open.lowerBound)
            reader.silenced.remove(reader[id].mark)
            reader.error(
                markInside(id, offset: offset),
                "\(what()): '${{ … }}' cannot appear in shell text, where a value could run as code; bind it in the stage's 'env' and read \"$NAME\" in the script"
            )
        }
        return Script(source: text, mark: reader[id].mark)
    }

    package mutating func url(_ id: NodeID, _ what: @autoclosure () -> String, stage: String?) -> Template? {
        guard let value = template(id, what(), stage: stage) else { return nil }
        if !(value.raw.hasPrefix("http://") || value.raw.hasPrefix("https://") || value.raw.hasPrefix("${{")) {
            reader.error(reader[id].mark, "\(what()) must start with http:// or https://, found '\(value.raw)'")
        }
        return value
    }

    /// A value that may hold `${{ }}` references; each is queued to be checked once the graph is
    /// known. In a stage file, `parameters.NAME` is replaced by the value the include gave and output
    /// references get the include's prefix (see ``scopedTemplate(_:_:what:inParameter:)``).
    /// - Parameter inParameter: the value of a parameter (an include's `with`, a `default`).
    package mutating func template(_ id: NodeID, _ what: @autoclosure () -> String, stage: String?, inParameter: Bool = false) -> Template? {
        guard let text = reader.string(id, what()) else { return nil }
        let (parsed, problems) = Template.parse(text)
        for (offset, message) in problems {
            reader.error(markInside(id, offset: offset), "\(what()): \(message)")
        }
        var valid = problems.isEmpty
        if text.mayHoldReference, text.contains("${{") {
            var offset = 0
            var rest = text[...]
            for part in parsed.parts {
                switch part {
                case .literal(let literal):
                    offset += literal.count
                    rest = rest.dropFirst(literal.count)
                case .reference(let reference):
                    let mark = markInside(id, offset: offset)
                    if case .parameter(let name) = reference {
                        if !checkParameter(name, at: mark, what: what(), inParameter: inParameter) { valid = false }
                    } else {
                        references.append(
                            PendingReference(
                                reference: scoped(reference), mark: mark, stage: stage, origin: scope?.origin, inParameter: inParameter))
                    }
                    if let close = rest.range(of: "}}") {
                        offset += rest.distance(from: rest.startIndex, to: close.upperBound)
                        rest = rest[close.upperBound...]
                    }
                }
            }
        }
        guard valid else { return nil }
        return scopedTemplate(parsed, id, what: what())
    }

    /// The mark of a character inside a one-line scalar (plain or quoted); the scalar's own mark otherwise.
    package func markInside(_ id: NodeID, offset: Int) -> Mark {
        let node = reader[id]
        let value = reader.value(id)
        switch node.style {
        case .plain where !value.contains("\n"):
            return Mark(line: node.mark.line, column: node.mark.column + offset)
        case .singleQuoted, .doubleQuoted:
            guard !value.prefix(offset).contains("\n"), !value.contains("\\"), !value.contains("'") else { return node.mark }
            return Mark(line: node.mark.line, column: node.mark.column + 1 + offset)
        default:
            return node.mark
        }
    }

    // MARK: - Lexical rules

    package static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-")
    }

    package static func isEnvName(_ s: String) -> Bool {
        guard let first = s.utf8.first, !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return false }
        return s.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_")
        }
    }

    package static func isStageID(_ s: String) -> Bool {
        func alnum(_ b: UInt8) -> Bool { (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) }
        var s = s
        // On the contiguous bytes (a stage id is checked for every stage).
        return s.withUTF8 { bytes in
            guard let first = bytes.first, bytes.count <= 63, alnum(first) else { return false }
            for b in bytes where !(alnum(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")) { return false }
            return true
        }
    }

    /// Parses `HH:MM-HH:MM` into minutes after midnight (the end may be 24:00).
    package static func hours(_ text: String) -> (Int, Int)? {
        let halves = text.split(separator: "-", omittingEmptySubsequences: false)
        guard halves.count == 2, let start = clock(halves[0].trimmingSpaces()), let end = clock(halves[1].trimmingSpaces()) else { return nil }
        return (start, end)
    }

    package static func clock(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0...24).contains(h), (0...59).contains(m), h < 24 || m == 0
        else { return nil }
        return h * 60 + m
    }
}
