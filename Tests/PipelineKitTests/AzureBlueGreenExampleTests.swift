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
        case "$*" in
          "postgres flexible-server show"*) echo Ready ;;
          "webapp config container show"*) slot=$(echo "$*" | sed 's/.*--slot \\([a-z]*\\).*/\\1/'); cat "slot-$slot" 2>/dev/null || echo none ;;
          "webapp config container set"*)
            slot=$(echo "$*" | sed 's/.*--slot \\([a-z]*\\).*/\\1/'); echo "$*" | sed 's/.*--container-image-name //' > "slot-$slot" ;;
          "afd origin update"*)
            origin=$(echo "$*" | sed 's/.*--origin-name \\([a-z-]*\\).*/\\1/'); echo "$*" | sed 's/.*--enabled-state //' > "origin-$origin" ;;
        esac
        """,
        "alembic": "#!/bin/sh\necho \"alembic $*\" >> \"$LEDGER\"\n[ \"$1\" = current ] && echo 'abc123 (head)'\nexit 0\n",
        "pg_dump": "#!/bin/sh\necho pg_dump >> \"$LEDGER\"\nfor a in \"$@\"; do case \"$a\" in --file=*) echo dump > \"${a#--file=}\" ;; esac; done\n",
        "pg_restore": "#!/bin/sh\necho pg_restore >> \"$LEDGER\"\n",
    ]

    @Test func deploysTheIdleSlotThenSwitchesBackWhenTheLiveCheckFails() throws {
        let server = try ScriptedServer([
            "/blue/health": [["status": 200]], "/green/health": [["status": 200]],
            "/blue/v1/orders": [["status": 200]], "/green/v1/orders": [["status": 200]],
            "/health": [["status": 200]], "/v1/ping": [["status": 200], ["status": 500]],
            "/hook": [["status": 200]],
        ])
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
        let env = [
            "PATH": bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "LEDGER": box.dir.appendingPathComponent("ledger").path, "GITHUB_SHA": "1a2b3c4",
            "ORDERS_SLOTS_URL": server.base, "ORDERS_PUBLIC_URL": server.base, "TEAMS_WEBHOOK_URL": server.base + "/hook",
            "DATABASE_URL": "postgres://orders:pw-s3cret@db/orders", "STRIPE_WEBHOOK_SECRET": "whsec_s3cret_value",
            "PIPELINE_TEST_CLOCK": "virtual",
        ]
        let first = try box.pipeline(["run", "p.yml"], env: env)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(box.read("slot-green") == "acrorders.azurecr.io/orders-api:1a2b3c4\n")
        #expect(box.read("origin-orders-api-green") == "Enabled\n" && box.read("origin-orders-api-blue") == "Disabled\n")

        // The second deploy goes to blue; the public check fails after the switch: Front Door goes
        // back to green, blue gets its previous image back, the migration is downgraded to the
        // revision recorded before it, all inside the maintenance window.
        try "acrorders.azurecr.io/orders-api:0ld".write(to: box.dir.appendingPathComponent("slot-blue"), atomically: true, encoding: .utf8)
        let before = Ledger(box).lines.count
        let second = try box.pipeline(["run", "p.yml"], env: env.merging(["GITHUB_SHA": "5d6e7f8"]) { $1 })
        #expect(second.status == 1, "\(second.stdout)\(second.stderr)")
        #expect(box.read("origin-orders-api-green") == "Enabled\n" && box.read("origin-orders-api-blue") == "Disabled\n")
        #expect(box.read("slot-blue") == "acrorders.azurecr.io/orders-api:0ld\n")
        let undo = Array(Ledger(box).lines[before...]).filter { !$0.hasPrefix("az webapp config container show") }
        let maintenanceOn = try #require(undo.firstIndex { $0.contains("MAINTENANCE_MODE=on") })
        let maintenanceOff = try #require(undo.firstIndex { $0.contains("MAINTENANCE_MODE=off") })
        let downgrade = try #require(undo.firstIndex(of: "alembic downgrade abc123"))
        let restoreSlot = try #require(undo.firstIndex { $0.hasPrefix("az webapp config container set") && $0.contains("0ld") })
        #expect(maintenanceOn < restoreSlot && restoreSlot < downgrade && downgrade < maintenanceOff, "\(undo)")
        let events = server.posts().compactMap { ($0["body"] as? [String: Any])?["event"] as? String }
        #expect(events == ["started", "succeeded", "started", "failed", "rolled_back"])
        for (path, text) in box.allFiles() where path.contains(".pipeline") {
            #expect(!text.contains("pw-s3cret") && !text.contains("whsec_s3cret_value"), "a secret is in \(path)")
        }
    }
}
