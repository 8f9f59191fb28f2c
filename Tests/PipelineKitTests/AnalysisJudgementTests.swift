import Foundation
import Testing

@testable import PipelineEngine
@testable import PipelineSpec
import PipelineYAML

/// The pure parts of analysis, in-process: bound expressions, how a Prometheus answer reads
/// (the forms the real server cannot be made to send here: warnings, a 503 page), and the rules'
/// counting. The end-to-end runs are in AnalysisRuleTests and PrometheusAnalysisTests.
struct AnalysisJudgementTests {
    @Test(arguments: [
        ("baseline * 1.5", "baseline * 1.5", 3.0, 0.0),
        ("baseline - 0.1", "baseline - 0.1", 1.9, -0.1),
        ("max(baseline * 1.5, 0.01)", "max(baseline * 1.5, 0.01)", 3.0, 0.01),
        ("min( max(baseline*2 , 0.5) ,1)", "min(max(baseline * 2, 0.5), 1)", 1.0, 0.5),
        ("baseline", "baseline * 1", 2.0, 0.0),
    ])
    func boundsParseAndEvaluate(_ text: String, _ shown: String, _ atTwo: Double, _ atZero: Double) throws {
        var parser = BoundParser(text: Array(text.utf8))
        let bound = try parser.parse().get()
        #expect(bound.description == shown)
        #expect(bound.value(baseline: 2) == atTwo)
        #expect(bound.value(baseline: 0) == atZero)
    }

    @Test(arguments: [
        ("max(baseline * 1.5", 18, "expected ')' before the end"),
        ("max(0.01)", 0, "'max(…)' needs at least two bounds, separated by commas"),
        ("baseline * 0", 11, "the factor must be greater than 0"),
        ("avg(baseline, 1)", 0, "unknown word 'avg' (use 'baseline', 'max' or 'min')"),
        ("baseline times 2", 9, "unexpected 'times'"),
    ])
    func badBoundsSayWhereAndWhy(_ text: String, _ offset: Int, _ message: String) {
        var parser = BoundParser(text: Array(text.utf8))
        guard case .failure(let problem) = parser.parse() else {
            Issue.record("'\(text)' parsed")
            return
        }
        #expect(problem.offset == offset)
        #expect(problem.message == message)
    }

    @Test func aMissingBaselineDropsOutOfMaxAndMin() {
        #expect(Bound.greatest([.baselineTimes(1.5), .absolute(0.01)]).value(baseline: nil) == 0.01)
        #expect(Bound.least([.baselineTimes(2), .absolute(1)]).value(baseline: nil) == 1)
        #expect(Bound.baselineTimes(1.5).value(baseline: nil) == nil)
    }

    static func json(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object) }

    @Test func prometheusWarningsAndErrorPagesAreKept() {
        let warned = Prometheus.answer(
            status: 200,
            body: Self.json([
                "status": "success", "warnings": ["remote read partial"], "infos": ["metric might not be a counter"],
                "data": ["resultType": "vector", "result": [["metric": [:], "value": [1, "0.5"]]]],
            ]))
        #expect(warned.value == 0.5)
        #expect(warned.warnings == ["remote read partial", "metric might not be a counter"])
        let unavailable = Prometheus.answer(status: 503, body: Data("Service Unavailable\n".utf8))
        #expect(unavailable.value == nil && unavailable.reason == "Prometheus answered HTTP 503 that is not JSON: Service Unavailable")
        let unprocessable = Prometheus.answer(
            status: 422, body: Self.json(["status": "error", "errorType": "execution", "error": "query timed out in expression evaluation"]))
        #expect(unprocessable.reason == "Prometheus answered HTTP 422 (execution): query timed out in expression evaluation")
        let infinite = Prometheus.answer(status: 200, body: Self.json(["status": "success", "data": ["resultType": "scalar", "result": [1, "+Inf"]]]))
        #expect(infinite.value == nil && infinite.reason == "Prometheus returned '+Inf', not a finite number")
        let matrix = Prometheus.answer(status: 200, body: Self.json(["status": "success", "data": ["resultType": "matrix", "result": []]]))
        #expect(matrix.reason?.hasPrefix("the query returned a matrix, not one number") == true)
    }

    @Test func aQueryIsPercentEncodedPlusSignsIncluded() {
        #expect(
            Prometheus.queryURL(base: "http://p:9090/", query: "a + b{code=~\"5..\"} & c")
                == "http://p:9090/api/v1/query?query=a%20%2B%20b%7Bcode%3D~%225..%22%7D%20%26%20c")
    }

    static func metric(_ rules: AnalysisRules) -> CanaryMetric {
        CanaryMetric(
            name: "m", source: .command(Script(source: "true", mark: Mark(line: 1, column: 1))), max: .absolute(1), min: nil, rules: rules,
            timeout: .seconds(1), mark: Mark(line: 1, column: 1))
    }

    /// Readings every 30 s: `for: 1m` fails once the streak spans a minute; an inconclusive reading
    /// in between neither ends it nor counts as a failure; a pass ends it.
    @Test func forCountsTimeAndInconclusiveReadingsDoNotBreakAStreak() {
        let metric = Self.metric(AnalysisRules(sustained: .minutes(1)))
        var analysis = CanaryAnalysis(metrics: [metric], stageFailureLimit: 3, baseline: [:])
        let readings: [(MetricReading, CanaryAnalysis.Decision)] = [
            (MetricReading(value: 2), .carryOn), (MetricReading(value: 0.5), .carryOn), (MetricReading(value: 2), .carryOn),
            (MetricReading(reason: "down"), .carryOn), (MetricReading(value: 2), .abort("m = 2 [2 failed readings in a row, broken for 1m or more]")),
        ]
        for (i, (reading, expected)) in readings.enumerated() {
            let judgement = CanaryAnalysis.judge(reading, metric, baseline: nil)
            analysis.count(metric, judgement, text: "m = \(reading.value.map(formatNumber) ?? "no value")", now: 30_000 * i)
            #expect(analysis.decide(now: 30_000 * i) == expected, "reading \(i + 1)")
        }
    }
}
