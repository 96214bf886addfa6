import Foundation
import Testing

/// Debian's headless Chromium for layout checks and screenshots of rendered pages. Fails, never skips, when Chromium
/// is missing: `scripts/chromium.sh` installs it. (Shared by DigestsTests and DaemonTests: the second is a symlink.)
enum Chromium {
    static let sizes = [(name: "phone", width: 390, height: 844), (name: "desktop", width: 1280, height: 900)]

    struct Measure {
        var scrollWidth: Int
        var innerWidth: Int
        var buttonTop: Double
    }

    static func executable() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") + ["/usr/bin"] {
            for name in ["chromium", "chromium-browser"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        Issue.record("Chromium is not installed: run scripts/chromium.sh (Debian's chromium package)")
        throw CancellationError()
    }

    /// Runs Chromium headless with a fresh profile; returns standard output.
    static func run(_ arguments: [String]) throws -> String {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try executable())
        p.arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run", "--mute-audio",
                       "--user-data-dir=\(profile.path)"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "chromium \(arguments.last ?? "") exited with \(p.terminationStatus)")
        return String(decoding: data, as: UTF8.self)
    }

    static func attribute(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Chromium's windows are at least 500px wide, so the page is laid out in an iframe of exactly the size
    /// wanted (its viewport), inside a wrapper page. `srcdoc` keeps the frame same-origin with the wrapper.
    static func framed(_ html: String, width: Int, height: Int) -> String {
        """
        <!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">\
        <iframe title="digest" style="display:block;border:0;width:\(width)px;height:\(height)px" srcdoc="\(attribute(html))"></iframe>\
        <pre id="measure"></pre></body></html>
        """
    }

    /// Runs a tiny script inside the framed page that writes what we measure into the wrapper's
    /// `<pre id="measure">`, and reads it from the dumped DOM.
    static func measure(_ html: String, width: Int, height: Int) throws -> Measure {
        let probe = """
        <script>
        var b = document.querySelector('form.optout button');
        parent.document.getElementById('measure').textContent = 'scrollWidth=' + document.documentElement.scrollWidth +
          ' innerWidth=' + window.innerWidth + ' buttonTop=' + (b ? b.getBoundingClientRect().top : -1);
        </script>
        """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("measure-\(UUID().uuidString).html")
        let page = html.replacingOccurrences(of: "</body>", with: probe + "</body>")
        try Data(framed(page, width: width, height: height).utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let dom = try run(["--window-size=\(width),\(height)", "--virtual-time-budget=2000",
                           "--run-all-compositor-stages-before-draw", "--dump-dom", file.absoluteString])
        guard let m = dom.firstMatch(of: /scrollWidth=(\d+) innerWidth=(\d+) buttonTop=(-?[\d.]+)/) else {
            Issue.record("no measurement in the dumped DOM: \(dom.prefix(300))")
            throw CancellationError()
        }
        return Measure(scrollWidth: Int(m.output.1)!, innerWidth: Int(m.output.2)!, buttonTop: Double(m.output.3)!)
    }

    /// A PNG of the page at one size; copied to `docs/NAME` when `CONSENTINEL_UPDATE_SCREENSHOTS=1`.
    static func screenshot(_ html: String, width: Int, height: Int, docsName: String) throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("page.html")
        try Data(framed(html, width: width, height: height).utf8).write(to: page)
        let png = dir.appendingPathComponent("page.png")
        _ = try run(["--window-size=\(width),\(height)", "--screenshot=\(png.path)", page.absoluteString])
        let data = try Data(contentsOf: png)
        if ProcessInfo.processInfo.environment["CONSENTINEL_UPDATE_SCREENSHOTS"] == "1" {
            let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/" + docsName)
            try data.write(to: docs)
        }
        return data
    }
}
