import Yams

extension RuleCompiler {
    /// A rule's `message`: text (every language), a mapping of languages to text, or a mapping of each of the
    /// rule's reasons to either. Faults go to `faults`, with their place in the file.
    func message(_ f: RuleFields, spec: RuleSpec, _ faults: inout Faults) -> RuleMessage? {
        guard let node = f.node("message") else { return nil }
        let reasons = ViolationFields.reasons(of: spec)
        let keys = node.mapping?.keys.compactMap { $0.scalar?.string } ?? []
        guard let map = node.mapping, keys.contains(where: reasons.contains),
              !keys.allSatisfy({ MessageLanguage(rawValue: $0) != nil })
        else {
            return translations(node, fields: .of(spec), f.doc, &faults).map { RuleMessage(all: $0) }
        }
        var byReason: [String: RuleMessage.Translations] = [:]
        var given: Set<String> = []
        for (key, value) in map {
            let reason = key.scalar?.string ?? ""
            guard reasons.contains(reason) else {
                let hint = Suggestion.hint(for: reason, among: reasons)
                faults.add(.schema, "'\(reason)' is not a reason of this rule (\(reasons.joined(separator: ", "))): a message maps "
                           + "either languages or the rule's reasons\(hint)", f.doc.location(key), f.doc)
                continue
            }
            given.insert(reason)
            byReason[reason] = translations(value, fields: .of(spec, reason: reason), f.doc, &faults)
        }
        let missing = reasons.filter { !given.contains($0) }
        if !missing.isEmpty {
            let at = f.keys.first { $0.0 == "message" }.map { f.doc.location($0.1) }
            faults.add(.schema, "message has no sentence for \(missing.joined(separator: ", ")): give one for each of the "
                       + "rule's reasons (\(reasons.joined(separator: ", "))), or one for all", at, f.doc)
        }
        return RuleMessage(all: [:], byReason: byReason)
    }

    /// One template for every language, or a mapping of languages to templates.
    private func translations(
        _ node: Node, fields: ViolationFields, _ doc: YAMLDocument, _ faults: inout Faults
    ) -> RuleMessage.Translations? {
        if node.scalar != nil {
            var out: RuleMessage.Translations = [:]
            for language in MessageLanguage.allCases {
                guard let template = template(node, language, fields, doc, &faults) else { return nil }
                out[language] = template
            }
            return out
        }
        guard let map = node.mapping else {
            faults.add(.schema, "a message is text, a mapping of languages (en, es, de, fr) to text, or a mapping of the "
                       + "rule's reasons to either", doc.location(node), doc)
            return nil
        }
        var out: RuleMessage.Translations = [:]
        var ok = true
        for (key, value) in map {
            let name = key.scalar?.string ?? ""
            guard let language = MessageLanguage(rawValue: name) else {
                let names = MessageLanguage.allCases.map(\.rawValue)
                let hint = Suggestion.hint(for: name, among: names)
                faults.add(.schema, "unknown language '\(name)' in message; the languages are \(names.joined(separator: ", "))\(hint)",
                           doc.location(key), doc)
                ok = false
                continue
            }
            guard value.scalar != nil else {
                faults.add(.schema, "the message in \(language) must be text", doc.location(value), doc)
                ok = false
                continue
            }
            if let template = template(value, language, fields, doc, &faults) { out[language] = template } else { ok = false }
        }
        return ok ? out : nil
    }

    private func template(
        _ node: Node, _ language: MessageLanguage, _ fields: ViolationFields, _ doc: YAMLDocument, _ faults: inout Faults
    ) -> MessageTemplate? {
        var text = node.null == nil ? node.scalar?.string ?? "" : ""
        while text.last?.isNewline == true { text.removeLast() }
        guard let scalar = node.scalar, !text.isEmpty else {
            faults.add(.schema, "a message must be non-empty text", doc.location(node), doc)
            return nil
        }
        switch MessageTemplate.compile(text, language: language, fields: fields) {
        case .success(let template):
            return template
        case .failure(let issues):
            let locator = ExpressionLocator(doc: doc, scalar: scalar, start: doc.location(node))
            faults.errors += issues.issues.map { $0.located(locator.locate) }
            return nil
        }
    }
}
