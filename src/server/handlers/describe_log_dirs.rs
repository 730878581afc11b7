//! DescribeLogDirs (v1–v5): each of `log.dirs` (KAFKA_STORAGE_ERROR for an
//! offline one), each partition's size on disk and offset lag, with the
//! future replicas of partitions moving into the dir (`is_future_key`,
//! their lag behind the current replica's log end), (v4) the file system's
//! total and usable bytes, and (v5) whether the dir is cordoned — never:
//! gregor has no `cordoned.log.dirs` (KIP-1066).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use super::groups::str_bytes;
use super::topic_name;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

/// Total and available bytes of the file system holding `path`.
fn file_system_bytes(path: &std::path::Path) -> (i64, i64) {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return (-1, -1);
    };
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is a valid NUL-terminated string and stats a writable struct.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) } != 0 {
        return (-1, -1);
    }
    let block = stats.f_frsize as i64;
    (stats.f_blocks as i64 * block, stats.f_bavail as i64 * block)
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeLogDirsRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeLogDirsResponse {
    if !context.may_on_cluster(broker, AclOperation::Describe) {
        let response = DescribeLogDirsResponse::default();
        return match version >= 3 {
            true => response.with_error_code(ResponseError::ClusterAuthorizationFailed.code()),
            false => response,
        };
    }
    let wanted = |topic: &str, partition: i32| match &request.topics {
        None => true,
        Some(topics) => topics
            .iter()
            .any(|t| t.topic.as_str() == topic && t.partitions.contains(&partition)),
    };
    let results = broker
        .log_dir_sizes()
        .into_iter()
        .map(|dir| {
            let absolute = std::fs::canonicalize(&dir.path).unwrap_or(dir.path);
            let result = DescribeLogDirsResult::default()
                .with_log_dir(str_bytes(absolute.display().to_string()));
            // An offline dir is reported with its error and nothing else,
            // as Kafka reports it.
            if dir.failure.is_some() {
                return result.with_error_code(ResponseError::KafkaStorageError.code());
            }
            let mut topics: Vec<DescribeLogDirsTopic> = Vec::new();
            for replica in dir.replicas {
                let topic_partition = replica.partition;
                if !wanted(&topic_partition.topic, topic_partition.partition) {
                    continue;
                }
                let entry = DescribeLogDirsPartition::default()
                    .with_partition_index(topic_partition.partition)
                    .with_partition_size(replica.size as i64)
                    .with_offset_lag(replica.offset_lag)
                    .with_is_future_key(replica.is_future);
                match topics.last_mut() {
                    Some(last) if last.name.as_str() == topic_partition.topic => {
                        last.partitions.push(entry)
                    }
                    _ => topics.push(
                        DescribeLogDirsTopic::default()
                            .with_name(topic_name(&topic_partition.topic))
                            .with_partitions(vec![entry]),
                    ),
                }
            }
            let mut result = result.with_topics(topics);
            if version >= 4 {
                let (total, usable) = file_system_bytes(&absolute);
                result = result.with_total_bytes(total).with_usable_bytes(usable);
            }
            result
        })
        .collect();
    DescribeLogDirsResponse::default().with_results(results)
}

/// The answer to `request` failing with `code`: one errored log dir, and
/// from v3 the top-level error too.
pub fn error_response(
    _request: &DescribeLogDirsRequest,
    version: i16,
    code: i16,
) -> DescribeLogDirsResponse {
    let response = DescribeLogDirsResponse::default()
        .with_results(vec![DescribeLogDirsResult::default().with_error_code(code)]);
    if version >= 3 {
        response.with_error_code(code)
    } else {
        response
    }
}
