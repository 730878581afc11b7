//! The principal of a TLS client certificate, as Kafka's default
//! principal builder names it: `User:` and the certificate's subject in
//! RFC 2253 form, as Java's `X500Principal.getName()` writes it
//! (`CN=alice,OU=eng,O=example`: the last RDN first, no spaces, special
//! characters escaped), then mapped by `ssl.principal.mapping.rules`.

use super::der::{SEQUENCE, SET};
use super::{certificate, der};

/// The principal of a certificate (DER) with the default rules, or `None`
/// if it cannot be read.
pub fn from_certificate(der: &[u8]) -> Option<String> {
    Some(format!("User:{}", subject_name(der)?))
}

/// The certificate's subject as Java writes it.
pub fn subject_name(der: &[u8]) -> Option<String> {
    rfc2253(certificate::subject(der)?)
}

/// Kafka's `SslPrincipalMapper`: `ssl.principal.mapping.rules`, a list of
/// `RULE:pattern/replacement/[LU]` and `DEFAULT`, tried in order; the
/// first whose pattern matches the subject names the user (`L`/`U`:
/// lower or upper case), `DEFAULT` keeps the subject. None matching:
/// the client cannot be named, and is refused.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<MappingRule>,
}

#[derive(Debug, Clone)]
enum MappingRule {
    Default,
    Rule {
        pattern: regex::Regex,
        replacement: String,
        case: Option<char>,
    },
}

impl Default for PrincipalMapper {
    fn default() -> Self {
        PrincipalMapper {
            rules: vec![MappingRule::Default],
        }
    }
}

impl PrincipalMapper {
    pub fn parse(text: &str) -> Result<PrincipalMapper, String> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("DEFAULT") {
                rules.push(MappingRule::Default);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("RULE:") {
                let (pattern, after) = until_slash(after)
                    .ok_or_else(|| format!("a rule needs pattern/replacement/: {rest}"))?;
                let (replacement, after) = until_slash(after)
                    .ok_or_else(|| format!("a rule needs pattern/replacement/: {rest}"))?;
                let (case, after) = match after.chars().next() {
                    Some(c @ ('L' | 'U')) => (Some(c), &after[1..]),
                    _ => (None, after),
                };
                let pattern = regex::Regex::new(&pattern)
                    .map_err(|error| format!("bad pattern {pattern:?}: {error}"))?;
                rules.push(MappingRule::Rule {
                    pattern,
                    replacement: java_replacement(&replacement),
                    case,
                });
                rest = after;
            } else {
                return Err(format!("expected RULE:… or DEFAULT at {rest:?}"));
            }
            rest = rest.trim_start();
            match rest.strip_prefix(',') {
                Some(after) => rest = after.trim_start(),
                None if rest.is_empty() => {}
                None => return Err(format!("expected ',' before {rest:?}")),
            }
        }
        if rules.is_empty() {
            rules.push(MappingRule::Default);
        }
        Ok(PrincipalMapper { rules })
    }

    /// The user name for a certificate subject, by the first rule that
    /// matches it.
    pub fn map(&self, subject: &str) -> Option<String> {
        self.rules.iter().find_map(|rule| match rule {
            MappingRule::Default => Some(subject.to_string()),
            MappingRule::Rule {
                pattern,
                replacement,
                case,
            } => {
                if !pattern.is_match(subject) {
                    return None;
                }
                let mapped = pattern
                    .replace_all(subject, replacement.as_str())
                    .into_owned();
                Some(match case {
                    Some('L') => mapped.to_lowercase(),
                    Some('U') => mapped.to_uppercase(),
                    _ => mapped,
                })
            }
        })
    }
}

/// Java's `$1` group references as the regex crate reads them (`${1}`:
/// it would take `$1a` for a group named `1a`).
fn java_replacement(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push_str("${");
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                out.push(d);
                chars.next();
            }
            out.push('}');
        } else {
            out.push(c);
        }
    }
    out
}

/// A rule's part up to an unescaped `/` (`\/` is a slash in it).
fn until_slash(text: &str) -> Option<(String, &str)> {
    let mut part = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '/')) => part.push('/'),
                Some((_, other)) => {
                    part.push('\\');
                    part.push(other);
                }
                None => return None,
            },
            '/' => return Some((part, &text[i + 1..])),
            other => part.push(other),
        }
    }
    None
}

/// One DER element: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let mut reader = der::Reader::new(input);
    let element = reader.element().ok()?;
    Some((element.tag, element.contents, reader.rest()))
}

/// The Name's RDNs, last first, as RFC 2253 strings.
fn rfc2253(name: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let (SET, set, after) = element(rest)? else {
            return None;
        };
        rest = after;
        let mut attributes = Vec::new();
        let mut inner = set;
        while !inner.is_empty() {
            let (SEQUENCE, pair, after) = element(inner)? else {
                return None;
            };
            inner = after;
            let (0x06, oid, value) = element(pair)? else {
                return None;
            };
            let (value_tag, text, _) = element(value)?;
            // Java writes the values of types it has no keyword for, and
            // of non-string types, as `#` and their DER in hex.
            let attribute = match (keyword(oid), string(value_tag, text)) {
                (Some(keyword), Some(text)) => format!("{keyword}={}", escape(&text)),
                (keyword, _) => format!(
                    "{}=#{}",
                    keyword.map_or_else(|| dotted(oid), str::to_string),
                    hex(value)
                ),
            };
            attributes.push(attribute);
        }
        rdns.push(attributes.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// Java's keywords for the attribute types RFC 2253 names.
fn keyword(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x09] => "STREET",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

fn dotted(oid: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut value: u64 = 0;
    for (i, byte) in oid.iter().enumerate() {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if parts.is_empty() && i < oid.len() {
                let first = (value / 40).min(2);
                parts.push(first.to_string());
                parts.push((value - first * 40).to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        }
    }
    parts.join(".")
}

/// The text of a directory string (UTF8, Printable, IA5, Teletex as
/// Latin-1, BMP).
fn string(tag: u8, bytes: &[u8]) -> Option<String> {
    match tag {
        0x0c | 0x13 | 0x16 => std::str::from_utf8(bytes).ok().map(str::to_string),
        0x14 => Some(bytes.iter().map(|b| char::from(*b)).collect()),
        0x1e => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// RFC 2253 escaping: `,+"\<>;` always, `#` or a space first, a space last.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_rules_as_kafka_applies_them() {
        let mapper = PrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/, RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$2/L, DEFAULT",
        )
        .unwrap();
        assert_eq!(
            mapper
                .map("CN=kafka-broker,OU=ServiceUsers,O=Example")
                .as_deref(),
            Some("kafka-broker")
        );
        assert_eq!(
            mapper.map("CN=Alice,OU=Eng,O=Example").as_deref(),
            Some("alice@eng")
        );
        assert_eq!(mapper.map("CN=bob").as_deref(), Some("CN=bob"));
        let suffixed = PrincipalMapper::parse("RULE:^CN=(.*)$/$1svc/").unwrap();
        assert_eq!(suffixed.map("CN=bob").as_deref(), Some("bobsvc"));
        let strict = PrincipalMapper::parse("RULE:^CN=([a-z]+)$/$1/U").unwrap();
        assert_eq!(strict.map("CN=bob").as_deref(), Some("BOB"));
        assert_eq!(strict.map("CN=bob,O=x"), None, "no rule matches: refused");
        assert_eq!(
            PrincipalMapper::parse("DEFAULT")
                .unwrap()
                .map("CN=x")
                .as_deref(),
            Some("CN=x")
        );
        assert_eq!(
            PrincipalMapper::parse(r"RULE:^CN=(.*)$/a\/$1/")
                .unwrap()
                .map("CN=x")
                .as_deref(),
            Some("a/x")
        );
        for bad in ["RULE:^CN=(.*)$", "RULE:(/x/", "NOPE", "DEFAULT DEFAULT"] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad}");
        }
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n => {
                out.push(0x82);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(content);
        out
    }

    fn rdn(oid: &[u8], tag: u8, value: &str) -> Vec<u8> {
        let pair = [tlv(0x06, oid), tlv(tag, value.as_bytes())].concat();
        tlv(SET, &tlv(SEQUENCE, &pair))
    }

    /// A certificate skeleton: only the fields before the subject matter.
    fn certificate(subject: Vec<u8>) -> Vec<u8> {
        let tbs = [
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[1]),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &subject),
        ]
        .concat();
        tlv(SEQUENCE, &tlv(SEQUENCE, &tbs))
    }

    #[test]
    fn subjects_read_as_java_writes_them() {
        let subject = [
            rdn(&[0x55, 0x04, 0x06], 0x13, "US"),
            rdn(&[0x55, 0x04, 0x0a], 0x0c, "Example, Inc."),
            rdn(&[0x55, 0x04, 0x03], 0x0c, "alice"),
        ]
        .concat();
        assert_eq!(
            from_certificate(&certificate(subject)).as_deref(),
            Some("User:CN=alice,O=Example\\, Inc.,C=US")
        );
        let odd = [rdn(
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            0x16,
            "a@b",
        )]
        .concat();
        assert_eq!(
            from_certificate(&certificate(odd)).as_deref(),
            Some("User:1.2.840.113549.1.9.1=#1603614062")
        );
        assert_eq!(from_certificate(b"\x30\x05junk"), None);
        assert_eq!(from_certificate(&[]), None);
    }
}
