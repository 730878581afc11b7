//! Api key → handler.

use std::sync::Arc;

use kafka_protocol::messages::{RequestKind, ResponseKind};

use super::codec::Request;
use super::handlers;
use crate::broker::Broker;

/// What the connection does after a request.
pub enum Reply {
    Send(Box<ResponseKind>),
    /// The client expects no response (acks=0 produce).
    Nothing,
    /// The request cannot be answered; the connection closes with this reason.
    Close(String),
}

pub async fn dispatch(broker: &Arc<Broker>, request: Request) -> Reply {
    let version = request.version();
    let api_key = request.api_key;
    let response = match request.body {
        RequestKind::ApiVersions(body) => {
            ResponseKind::ApiVersions(handlers::api_versions::handle(&body, version))
        }
        RequestKind::Metadata(body) => {
            ResponseKind::Metadata(handlers::metadata::handle(broker, body, version).await)
        }
        RequestKind::CreateTopics(body) => {
            ResponseKind::CreateTopics(handlers::create_topics::handle(broker, body, version).await)
        }
        RequestKind::DeleteTopics(body) => {
            ResponseKind::DeleteTopics(handlers::delete_topics::handle(broker, body, version).await)
        }
        RequestKind::Produce(body) => {
            return match handlers::produce::handle(broker, body, version).await {
                Some(response) => Reply::Send(Box::new(ResponseKind::Produce(response))),
                None => Reply::Nothing,
            }
        }
        RequestKind::Fetch(body) => {
            ResponseKind::Fetch(handlers::fetch::handle(broker, body, version).await)
        }
        RequestKind::ListOffsets(body) => {
            ResponseKind::ListOffsets(handlers::list_offsets::handle(broker, body, version).await)
        }
        // The codec only passes advertised APIs, so this is a gap between the
        // api_versions table and this match.
        _ => return Reply::Close(format!("no handler for {api_key:?}")),
    };
    Reply::Send(Box::new(response))
}
