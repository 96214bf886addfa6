/// Where the daemon keeps digests in the state store's global space, which every instance reads.
///
/// - `digests:<pipeline>:<month>`, key subject: a closed month's subject digest (the portal reads these).
/// - `digest-orgs:<pipeline>`, key month: the organisation digest, once every partition has closed the month.
/// - `digest-parts:<pipeline>:<month>`, key `topic[partition]`: a partition's part of the organisation digest.
/// - `digest-progress:<pipeline>`, key `topic[partition]`: the month before which that partition has closed all.
/// - `digest-pending:<pipeline>`, key month: months with parts but no organisation digest yet.
public enum DigestSpace {
    public static func subjects(_ pipeline: String, month: String) -> String { "digests:\(pipeline):\(month)" }
    public static func orgs(_ pipeline: String) -> String { "digest-orgs:\(pipeline)" }
    public static func parts(_ pipeline: String, month: String) -> String { "digest-parts:\(pipeline):\(month)" }
    public static func progress(_ pipeline: String) -> String { "digest-progress:\(pipeline)" }
    public static func pending(_ pipeline: String) -> String { "digest-pending:\(pipeline)" }
}
