@testable import Digests
import Foundation
import Testing

/// Opens the customer's page (with the portal's opt-out forms) in Debian's headless Chromium at phone and desktop
/// sizes. Fails, never skips, when Chromium is missing: `scripts/chromium.sh` installs it.
@Suite("Layout in headless Chromium")
struct LayoutTests {
    static func page(_ language: Language) -> String {
        DigestRenderer(language: language, context: Fixtures.context(optOut: Fixtures.optOut)).subjectHTML(Fixtures.fullSubject)
    }

    @Test("nothing wider than the viewport; the opt-out within 1.5 screens",
          arguments: Language.allCases, [0, 1])
    func layout(_ language: Language, _ size: Int) throws {
        let (name, width, height) = Chromium.sizes[size]
        let m = try Chromium.measure(Self.page(language), width: width, height: height)
        #expect(m.innerWidth == width, "\(name): the viewport is \(m.innerWidth) wide")
        #expect(m.scrollWidth <= width, "\(language) \(name): the page is \(m.scrollWidth)px wide in a \(width)px viewport")
        #expect(m.buttonTop >= 0, "\(language) \(name): there is an opt-out button")
        #expect(m.buttonTop <= 1.5 * Double(height), "\(language) \(name): the first opt-out button is at \(m.buttonTop)px")
    }

    @Test("the organisation report fits a phone")
    func orgOnPhone() throws {
        let html = DigestRenderer(language: .de, context: Fixtures.context()).orgHTML(Fixtures.org)
        let m = try Chromium.measure(html, width: 390, height: 844)
        #expect(m.scrollWidth <= 390, "the report is \(m.scrollWidth)px wide")
    }

    /// Screenshots of the English page; kept in docs/ when `CONSENTINEL_UPDATE_SCREENSHOTS=1`.
    @Test("screenshots at phone and desktop size", arguments: [0, 1])
    func screenshot(_ size: Int) throws {
        let (name, width, height) = Chromium.sizes[size]
        let data = try Chromium.screenshot(Self.page(.en), width: width, height: height, docsName: "digest-\(name).png")
        #expect(PNGImage.problems(ofPage: data, width: width, height: height) == [])
    }
}

/// The privacy notice reads on a phone: nothing wider than the viewport, in every language.
@Suite("The privacy notice in headless Chromium")
struct NoticeLayoutTests {
    static let facts = PolicyFacts(
        organisation: Organisation(name: "Example Shop Ltd", contactEmail: "privacy@example.com"),
        categories: ["user.contact.email", "user.behavior.browsing_history", "user.financial", "user.health_and_medical"],
        consentPurposes: ["marketing", "personalize", "third_party_sharing", "train_ai_system"],
        servicePurposes: ["essential.service.operations.support", "essential.service.payment_processing"],
        retention: [RetentionPolicy(categories: ["user.behavior"], keep: .days(365), from: .collect)],
        recipients: ["payment-processor", "a-very-long-recipient-name-that-must-wrap.example.com"],
        roles: [.init(role: "support", purposes: ["essential.service.operations.support"], categories: ["user.name", "user.contact", "user.account"])],
        erasureWithin: .days(30))

    @Test(arguments: Language.allCases)
    func fitsAPhone(_ language: Language) throws {
        let m = try Chromium.measure(DigestRenderer(language: language).policyHTML(Self.facts), width: 390, height: 844)
        #expect(m.scrollWidth <= 390, "\(language): the notice is \(m.scrollWidth)px wide")
    }
}
