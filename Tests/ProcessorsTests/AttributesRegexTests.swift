import CollectorCore
import Processors
import Testing

/// Regexes from config match as Go's `regexp.MatchString` / `FindStringSubmatch` do.
@Suite struct AttributesRegexTests {
    @Test func plainTextPatternsAreUnanchoredSearchesUnlessAnchored() throws {
        #expect(try AttributeRegex("health").matches("GET /healthz"))
        #expect(try !AttributeRegex("health").matches("GET /ready"))
        #expect(try AttributeRegex("^GET").matches("GET /x"))
        #expect(try !AttributeRegex("^GET").matches("xGET"))
        #expect(try AttributeRegex("z$").matches("/healthz"))
        #expect(try !AttributeRegex("z$").matches("/healthzz/"))
        #expect(try AttributeRegex("^exact$").matches("exact"))
        #expect(try !AttributeRegex("^exact$").matches("exact!"))
        #expect(try AttributeRegex("").matches("anything"))
        #expect(try AttributeRegex("é").matches("café"))
    }

    @Test func regexPatternsAreUnanchoredSearchesUnlessAnchored() throws {
        #expect(try AttributeRegex("[0-9]{3}").matches("code 500 here"))
        #expect(try !AttributeRegex("^[0-9]{3}$").matches("code 500"))
        #expect(try AttributeRegex("(?i)^select").matches("SELECT 1"))
        #expect(try AttributeRegex("a|b").matches("xbx"))
    }

    @Test func namedAndUnnamedGroupsAreListedInOrder() throws {
        #expect(try AttributeRegex("(?P<a>x)(?<b_2>y)(z)(?:w)(?=q)").groupNames == ["a", "b_2", nil])
        // parentheses inside classes, escapes and \Q…\E are not groups
        #expect(try AttributeRegex("[(]\\((?P<n>[^)]+)\\)\\Q(x)\\E").groupNames == ["n"])
        #expect(try AttributeRegex("[]()](?P<n>a)").groupNames == ["n"])
    }

    @Test func capturesReturnEachGroupOrEmptyWhenItDidNotTakePart() throws {
        let r = try AttributeRegex("^/api/(?P<version>v[0-9]+)(?:/(?P<rest>.*))?$")
        #expect(r.captures(in: "/api/v2/users/1") == ["v2", "users/1"])
        #expect(r.captures(in: "/api/v3") == ["v3", ""])
        #expect(r.captures(in: "/other") == nil)
        // leftmost-first, not longest
        #expect(try AttributeRegex("(?P<x>a|ab)").captures(in: "ab") == ["a"])
    }

    @Test func badPatternsDoNotCompile() {
        #expect(throws: AttributeRegex.CompileError.self) { try AttributeRegex("a(") }
        #expect(throws: AttributeRegex.CompileError.self) { try AttributeRegex("[a-") }
        #expect(throws: AttributeRegex.CompileError.self) { try AttributeRegex("(?P<bad-name>x)") }
        #expect(throws: AttributeRegex.CompileError.self) { try AttributeRegex("(?P<unterminated") }
    }
}
