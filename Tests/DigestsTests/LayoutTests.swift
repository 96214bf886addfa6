@testable import Digests
import Foundation
import Testing

/// Opens the customer's page (with the portal's opt-out forms) in Debian's headless Chromium at phone and desktop
/// sizes. Fails, never skips, when Chromium is missing: `scripts/chromium.sh` installs it.
@Suite("Layout in headless Chromium")
struct LayoutTests {
    static let sizes = [(name: "phone", width: 390, height: 844), (name: "desktop", width: 1280, height: 900)]

    struct Measure {
        var scrollWidth: Int
        var innerWidth: Int
        var buttonTop: Double
    }

    static func chromium() throws -> String {
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
        p.executableURL = URL(fileURLWithPath: try chromium())
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

    static func page(_ language: Language) -> String {
        DigestRenderer(language: language, context: Fixtures.context(optOut: Fixtures.optOut)).subjectHTML(Fixtures.fullSubject)
    }

    /// Chromium's windows are at least 500px wide, so the page is laid out in an iframe of exactly the size
    /// wanted (its viewport), inside a wrapper page. `srcdoc` keeps the frame same-origin with the wrapper.
    static func framed(_ html: String, width: Int, height: Int) -> String {
        """
        <!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">\
        <iframe title="digest" style="display:block;border:0;width:\(width)px;height:\(height)px" srcdoc="\(Escape.html(html))"></iframe>\
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

    @Test("nothing wider than the viewport; the opt-out within 1.5 screens",
          arguments: Language.allCases, [0, 1])
    func layout(_ language: Language, _ size: Int) throws {
        let (name, width, height) = Self.sizes[size]
        let m = try Self.measure(Self.page(language), width: width, height: height)
        #expect(m.innerWidth == width, "\(name): the viewport is \(m.innerWidth) wide")
        #expect(m.scrollWidth <= width, "\(language) \(name): the page is \(m.scrollWidth)px wide in a \(width)px viewport")
        #expect(m.buttonTop >= 0, "\(language) \(name): there is an opt-out button")
        #expect(m.buttonTop <= 1.5 * Double(height), "\(language) \(name): the first opt-out button is at \(m.buttonTop)px")
    }

    @Test("the organisation report fits a phone")
    func orgOnPhone() throws {
        let html = DigestRenderer(language: .de, context: Fixtures.context()).orgHTML(Fixtures.org)
        let m = try Self.measure(html, width: 390, height: 844)
        #expect(m.scrollWidth <= 390, "the report is \(m.scrollWidth)px wide")
    }

    /// Screenshots of the English page; kept in docs/ when `CONSENTINEL_UPDATE_SCREENSHOTS=1`.
    @Test("screenshots at phone and desktop size", arguments: [0, 1])
    func screenshot(_ size: Int) throws {
        let (name, width, height) = Self.sizes[size]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("digest.html")
        try Data(Self.framed(Self.page(.en), width: width, height: height).utf8).write(to: page)
        let png = dir.appendingPathComponent("digest-\(name).png")
        _ = try Self.run(["--window-size=\(width),\(height)", "--screenshot=\(png.path)", page.absoluteString])
        let data = try Data(contentsOf: png)
        #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]) && data.count > 10_000, "a real PNG")
        if ProcessInfo.processInfo.environment["CONSENTINEL_UPDATE_SCREENSHOTS"] == "1" {
            let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/digest-\(name).png")
            try data.write(to: docs)
        }
    }
}
