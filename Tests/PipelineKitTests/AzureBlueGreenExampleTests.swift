import Foundation
import Testing

/// pipelines/azure-bluegreen.yml run for real against local stand-ins: `az`, `alembic`, `pg_dump`
/// and `pg_restore` are scripts that record what they were asked and keep the slots' images and
/// Front Door's origins in files (the cloud API cannot exist here), and the slots, the public
/// endpoint and the Teams webhook are a real HTTP server on loopback.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AzureBlueGreenExampleTests {
    static let standIns: [String: String] = [
        "az": """
        #!/bin/sh
        echo "az $*" >> "$LEDGER"
        rg=$(echo "$*" | sed 's/.*-g \\([a-z0-9-]*\\).*/\\1/')
        case "$*" in
          "postgres flexible-server show"*) echo Ready ;;
          "webapp config container show"*) slot=$(echo "$*" | sed 's/.*--slot \\([a-z]*\\).*/\\1/'); cat "slot-$rg-$slot" 2>/dev/null || echo none ;;
          "webapp config container set"*)
            slot=$(echo "$*" | sed 's/.*--slot \\([a-z]*\\).*/\\1/'); echo "$*" | sed 's/.*--container-image-name //' > "slot-$rg-$slot" ;;
          "afd origin update"*)
            origin=$(echo "$*" | sed 's/.*--origin-name \\([a-z-]*\\).*/\\1/'); echo "$*" | sed 's/.*--enabled-state //' > "origin-$rg-$origin" ;;
        esac
        """,
        "alembic": "#!/bin/sh\necho \"alembic $*\" >> \"$LEDGER\"\n[ \"$1\" = current ] && echo 'abc123 (head)'\nexit 0\n",
        "pg_dump": "#!/bin/sh\necho pg_dump >> \"$LEDGER\"\nfor a in \"$@\"; do case \"$a\" in --file=*) echo dump > \"${a#--file=}\" ;; esac; done\n",
        "pg_restore": "#!/bin/sh\necho pg_restore >> \"$LEDGER\"\n",
    ]

    @Test func stagingThenProductionEachWithItsOwnColoursAndASwitchBack() throws {
        var script: [String: [[String: Any]]] = ["/hook": [["status": 200]]]
        for environment in ["staging", "prod"] {
            for color in ["blue", "green"] {
                script["/\(environment)/\(color)/health"] = [["status": 200]]
                script["/\(environment)/\(color)/v1/orders"] = [["status": 200]]
            }
            script["/\(environment)/health"] = [["status": 200]]
        }
        script["/staging/v1/ping"] = [["status": 200]]
        script["/prod/v1/ping"] = [["status": 200], ["status": 500]]
        let server = try ScriptedServer(script)
        defer { server.stop() }
        let source = try String(contentsOf: Binary.root.appendingPathComponent("pipelines/azure-bluegreen.yml"), encoding: .utf8)
        let box = try Sandbox(source)
        defer { box.remove() }
        let bin = box.dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for (name, script) in Self.standIns {
            let path = bin.appendingPathComponent(name)
            try script.write(to: path, atomically: true, encoding: .utf8)
            chmod(path.path, 0o755)
        }
        let base = [
            "PATH": bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "LEDGER": box.dir.appendingPathComponent("ledger").path, "TEAMS_WEBHOOK_URL": server.base + "/hook",
            "DATABASE_URL": "postgres://orders:pw-s3cret@db/orders", "STRIPE_WEBHOOK_SECRET": "whsec_s3cret_value",
            "PIPELINE_TEST_CLOCK": "virtual",
        ]
        func deploy(_ environment: String, _ sha: String) throws -> Binary.Result {
            let prefix = server.base + (environment == "staging" ? "/staging" : "/prod")
            return try box.pipeline(
                ["run", "p.yml", "--env", environment, "--input", "sha=\(sha)", "--yes"],
                env: base.merging(["ORDERS_SLOTS_URL": prefix, "ORDERS_PUBLIC_URL": prefix]) { $1 })
        }
        // Production refuses a release staging has not run.
        #expect(try deploy("production", "1a2b3c4").status == 4)
        let staging = try deploy("staging", "1a2b3c4")
        #expect(staging.status == 0, "\(staging.stdout)\(staging.stderr)")
        #expect(box.read("slot-rg-orders-staging-green") == "acrorders.azurecr.io/orders-api:1a2b3c4\n")
        let production = try deploy("production", "1a2b3c4")
        #expect(production.status == 0, "\(production.stdout)\(production.stderr)")
        #expect(production.stderr.contains("[api] live colour: blue (no earlier run switched it); deploying green"), "each environment has its own colours")
        #expect(box.read("origin-rg-orders-prod-orders-api-green") == "Enabled\n" && box.read("origin-rg-orders-prod-orders-api-blue") == "Disabled\n")

        // The next release: staging alternates to blue; production's public check fails after the
        // switch, so Front Door goes back to green, blue gets its previous image back and the
        // migration is downgraded to the revision recorded before it, inside the maintenance window.
        #expect(try deploy("staging", "5d6e7f8").status == 0)
        #expect(box.read("origin-rg-orders-staging-orders-api-blue") == "Enabled\n")
        try "acrorders.azurecr.io/orders-api:0ld".write(
            to: box.dir.appendingPathComponent("slot-rg-orders-prod-blue"), atomically: true, encoding: .utf8)  // no newline, as az writes it
        let before = Ledger(box).lines.count
        let failed = try deploy("production", "5d6e7f8")
        #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
        #expect(box.read("origin-rg-orders-prod-orders-api-green") == "Enabled\n" && box.read("origin-rg-orders-prod-orders-api-blue") == "Disabled\n")
        #expect(box.read("slot-rg-orders-prod-blue") == "acrorders.azurecr.io/orders-api:0ld\n", "blue got its previous image back")
        let undo = Array(Ledger(box).lines[before...]).filter { !$0.hasPrefix("az webapp config container show") }
        let maintenanceOn = try #require(undo.firstIndex { $0.contains("MAINTENANCE_MODE=on") })
        let maintenanceOff = try #require(undo.firstIndex { $0.contains("MAINTENANCE_MODE=off") })
        let downgrade = try #require(undo.firstIndex(of: "alembic downgrade abc123"))
        let restoreSlot = try #require(undo.firstIndex { $0.hasPrefix("az webapp config container set") && $0.contains("0ld") })
        #expect(maintenanceOn < restoreSlot && restoreSlot < downgrade && downgrade < maintenanceOff, "\(undo)")
        let bodies = server.posts().compactMap { $0["body"] as? [String: Any] }
        #expect(bodies.suffix(3).map { $0["event"] as? String } == ["started", "failed", "rolled_back"])
        #expect(bodies.suffix(3).allSatisfy { $0["environment"] as? String == "production" })
        for (path, text) in box.allFiles() where path.contains(".pipeline") {
            #expect(!text.contains("pw-s3cret") && !text.contains("whsec_s3cret_value"), "a secret is in \(path)")
        }
    }
}
