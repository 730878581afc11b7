//! Kafka's topic name rules.

/// Kafka's limit: 249 characters, so that `<topic>-<partition>` folders fit
/// in a 255-byte file name.
const MAX_NAME_LENGTH: usize = 249;

pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name cannot be '{name}'"));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "topic name is {} characters long, the limit is {MAX_NAME_LENGTH}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic name '{name}' contains '{bad}'; legal characters are ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_topic_name;

    #[test]
    fn follows_kafka_rules() {
        assert!(validate_topic_name("orders.v1_new-2").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }
}
