import Foundation

/// The portal's tokens by secret, for code outside the server (the fuzz targets, Sources/Fuzz/FuzzTargets): the same
/// checks the portal makes, with nothing else of the server.
extension PortalLink {
    /// The link `token` opens at `now` when signed with `secret`, as the portal opens it.
    public init?(token: Substring, secret: [UInt8], now: Date) {
        self.init(token: token, signer: PortalSigner(secret: secret), now: now)
    }

    /// The token the portal mints for this link with `secret`.
    public func token(secret: [UInt8]) -> String {
        token(PortalSigner(secret: secret))
    }

    /// Whether `form` is an opt-out form token for the link token `link` and `purpose`, signed with `secret` and
    /// unexpired at `now`, as the portal checks a press.
    public static func acceptsOptOut(_ form: Substring, link: Substring, purpose: String, secret: [UInt8], now: Date) -> Bool {
        OptOutToken(token: form, link: link, purpose: purpose, signer: PortalSigner(secret: secret), now: now) != nil
    }
}
