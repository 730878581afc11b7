//! Reading the topics out of a consumer's subscription metadata
//! (ConsumerProtocolSubscription: version, then an array of topic names),
//! which the coordinator needs for OffsetDelete and lag reporting. The rest
//! of the payload belongs to the clients and is passed through untouched.

/// The subscribed topics, or `None` if the bytes are not a subscription.
pub fn topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut input = metadata.get(2..)?; // version
    let count = i32::from_be_bytes(input.get(..4)?.try_into().ok()?);
    input = &input[4..];
    // Each name takes at least its 2-byte length: do not trust the count.
    if count < 0 || count as usize > input.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let length = i16::from_be_bytes(input.get(..2)?.try_into().ok()?);
        let length = usize::try_from(length).ok()?;
        let name = input.get(2..2 + length)?;
        topics.push(String::from_utf8(name.to_vec()).ok()?);
        input = &input[2 + length..];
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_topic_names_and_rejects_garbage() {
        let mut bytes = vec![0, 1, 0, 0, 0, 2];
        for name in ["orders", "payments"] {
            bytes.extend_from_slice(&(name.len() as i16).to_be_bytes());
            bytes.extend_from_slice(name.as_bytes());
        }
        bytes.extend_from_slice(&[0, 0, 0, 0]); // user data
        assert_eq!(
            super::topics(&bytes),
            Some(vec!["orders".into(), "payments".into()])
        );
        assert_eq!(super::topics(&[0, 1, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(super::topics(&[]), None);
    }
}
