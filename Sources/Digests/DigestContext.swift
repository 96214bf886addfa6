import Events

/// Who sends the digests, from `pipeline.yaml`'s `organisation` block.
public struct Organisation: Sendable, Equatable {
    public var name: String
    public var contactEmail: String?
    public var privacyURL: String?
    /// The data protection authority customers may complain to, by name (optional).
    public var supervisoryAuthority: String?
    public var supervisoryAuthorityURL: String?

    public init(name: String, contactEmail: String? = nil, privacyURL: String? = nil,
                supervisoryAuthority: String? = nil, supervisoryAuthorityURL: String? = nil) {
        self.name = name
        self.contactEmail = contactEmail
        self.privacyURL = privacyURL
        self.supervisoryAuthority = supervisoryAuthority
        self.supervisoryAuthorityURL = supervisoryAuthorityURL
    }
}

/// How long data of some categories is kept: a pipeline's `retention` rule.
public struct RetentionPolicy: Sendable, Equatable {
    public enum Clock: String, Sendable {
        case collect
        case relationshipEnd = "relationship_end"
    }

    public var categories: [String]
    public var keep: Duration
    public var from: Clock

    public init(categories: [String], keep: Duration, from: Clock) {
        self.categories = categories
        self.keep = keep
        self.from = from
    }
}

/// What a rendered page needs to know about a rule beyond its id.
public struct RuleSummary: Sendable, Equatable {
    public var kind: String
    public var description: String?
    public init(kind: String, description: String? = nil) {
        self.kind = kind
        self.description = description
    }
}

/// Where the portal wants an opt-out posted. The page then has one `<form method="post">` per consent-based
/// purpose, each with the CSRF token and the purpose key as hidden fields and a submit button.
public struct OptOutAction: Sendable, Equatable {
    public var url: String
    public var csrfToken: String
    public var csrfField: String
    public var purposeField: String
    /// Tokens bound to one purpose each; a purpose without one gets `csrfToken`.
    public var purposeTokens: [String: String]

    public init(url: String, csrfToken: String, csrfField: String = "csrf_token", purposeField: String = "purpose",
                purposeTokens: [String: String] = [:]) {
        self.url = url
        self.csrfToken = csrfToken
        self.csrfField = csrfField
        self.purposeField = purposeField
        self.purposeTokens = purposeTokens
    }
}

/// Everything a page shows besides the digest itself: the organisation, the pipeline's retention rules, its rules,
/// consent-based purposes and words for people, and (from the portal) the opt-out action.
public struct DigestContext: Sendable {
    /// A pipeline's words for people in one language (`texts/<language>.yaml` of its folder).
    public struct Texts: Sendable, Equatable {
        /// Staff role → its name.
        public var roles: [String: String]
        /// Rule id → a short title (the organisation report).
        public var ruleTitles: [String: String]
        /// Rule id → one sentence to a customer about the rule broken (their page).
        public var ruleSentences: [String: String]

        public init(roles: [String: String] = [:], ruleTitles: [String: String] = [:], ruleSentences: [String: String] = [:]) {
            self.roles = roles
            self.ruleTitles = ruleTitles
            self.ruleSentences = ruleSentences
        }
    }

    public var organisation: Organisation
    public var retention: [RetentionPolicy]
    public var rules: [String: RuleSummary]
    /// Purposes that need the customer's consent; the page shows the customer's choice for each (and for every
    /// purpose they decided on this month).
    public var consentPurposes: [String]
    /// The customer's standing choices (purpose → `granted`/`withdrawn`) when the caller knows them beyond this
    /// month (the portal, from engine state); otherwise the month's latest decisions are shown.
    public var currentConsent: [String: String]
    public var optOut: OptOutAction?
    /// A purpose the customer has just said no to (the portal, after the press): the page confirms it at the top of
    /// the choices.
    public var optOutSaved: String?
    /// The notice as it stood when the month began and as it stood when it ended, when the rules changed during the
    /// month: the page then says what changed for the customer.
    public var policyChange: (before: PolicyFacts, after: PolicyFacts)?
    /// The pipeline's words for people, by language.
    public var texts: [Language: Texts]

    public init(organisation: Organisation = Organisation(name: ""), retention: [RetentionPolicy] = [],
                rules: [String: RuleSummary] = [:], consentPurposes: [String] = [], currentConsent: [String: String] = [:],
                optOut: OptOutAction? = nil, optOutSaved: String? = nil, texts: [Language: Texts] = [:]) {
        self.organisation = organisation
        self.retention = retention
        self.rules = rules
        self.consentPurposes = consentPurposes
        self.currentConsent = currentConsent
        self.optOut = optOut
        self.optOutSaved = optOutSaved
        self.texts = texts
    }

    /// A staff role's name: the pipeline's in `language`, else its English one, else the role as written.
    public func roleName(_ role: String, language: Language) -> String {
        texts[language]?.roles[role] ?? texts[.en]?.roles[role] ?? role
    }

    /// A rule's short title: the pipeline's in `language`, else the rule's description, else its id.
    public func ruleTitle(_ rule: String, language: Language) -> String {
        texts[language]?.ruleTitles[rule] ?? rules[rule]?.description ?? rule
    }

    /// The pipeline's sentence to a customer about a broken rule, in `language`, when it has one.
    public func ruleSentence(_ rule: String, language: Language) -> String? {
        texts[language]?.ruleSentences[rule]
    }
}
