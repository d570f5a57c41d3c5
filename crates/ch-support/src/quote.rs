//! SQL identifier quoting and string-literal escaping for ClickHouse.
//!
//! ClickHouse accepts any identifier inside backticks, with `\` escaping a backtick or a
//! backslash; string literals are single-quoted with the same backslash escapes. Quoting
//! every identifier, even plain ones, keeps the rule simple and injection impossible.

/// Quotes one identifier: `` name `` becomes `` `name` ``.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        match c {
            '`' => out.push_str("\\`"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// Quotes a `database.object` pair.
pub fn qualified(database: &str, name: &str) -> String {
    format!("{}.{}", ident(database), ident(name))
}

/// Quotes a string literal: `it's` becomes `'it\'s'`.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifier_is_backquoted() {
        assert_eq!(ident("trades"), "`trades`");
    }

    #[test]
    fn backtick_and_backslash_in_identifier_are_escaped() {
        assert_eq!(ident("a`b\\c"), "`a\\`b\\\\c`");
    }

    #[test]
    fn injection_attempt_stays_one_identifier() {
        let q = ident("x`; DROP TABLE t; --");
        assert_eq!(q, "`x\\`; DROP TABLE t; --`");
    }

    #[test]
    fn literal_escapes_quote_backslash_and_controls() {
        assert_eq!(string_literal("a'b\\c\n"), "'a\\'b\\\\c\\n'");
    }
}
