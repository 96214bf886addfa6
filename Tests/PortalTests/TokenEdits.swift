/// Forged tokens for the portal's tests. (PortalTests holds this file; DaemonTests links to it.)
enum TokenEdits {
    /// The characters of a link or form token: base64url and the separator.
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")

    /// The token with its character at `index` replaced by another of the alphabet (or the separator).
    static func altered(_ token: String, at index: Int, shift: Int) -> String {
        var chars = Array(token)
        let position = alphabet.firstIndex(of: chars[index]) ?? 0
        chars[index] = alphabet[(position + shift) % alphabet.count]
        return String(chars)
    }
}
