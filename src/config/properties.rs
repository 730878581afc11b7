//! Reading `server.properties`: the Java properties subset Kafka configs use.

use std::collections::BTreeMap;

/// Parses `key=value` (or `key: value`) lines; `#` and `!` start comments.
/// Line continuations and escapes are not supported (Kafka configs do not
/// need them).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut properties = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line
            .find(['=', ':'])
            .ok_or_else(|| format!("line {}: expected key=value, got {line:?}", number + 1))?;
        let (key, value) = line.split_at(split);
        properties.insert(key.trim().to_string(), value[1..].trim().to_string());
    }
    Ok(properties)
}

/// Properties from `(key, value)` pairs, for tests.
#[cfg(test)]
pub fn from_pairs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_pairs_and_skips_comments() {
        let parsed =
            super::parse("# c\n! c\nnode.id=3\n listeners : PLAINTEXT://:9092 \n\n").unwrap();
        assert_eq!(parsed["node.id"], "3");
        assert_eq!(parsed["listeners"], "PLAINTEXT://:9092");
        assert!(super::parse("nonsense").is_err());
    }
}
