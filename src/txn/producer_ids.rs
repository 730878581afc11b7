//! Producer ids for InitProducerId, handed out from blocks the controller
//! reserves durably, so that no id is ever given twice — even across
//! restarts, and later across brokers.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::controller::{Controller, ControllerError};

pub struct ProducerIds {
    controller: Arc<Controller>,
    /// The rest of the current block.
    block: Mutex<Range<i64>>,
}

impl ProducerIds {
    pub fn new(controller: Arc<Controller>) -> ProducerIds {
        ProducerIds {
            controller,
            block: Mutex::new(0..0),
        }
    }

    /// The next unused producer id; fetching a new block writes the
    /// controller's metadata, so it runs on a blocking thread.
    pub async fn next(self: &Arc<Self>) -> Result<i64, ControllerError> {
        let ids = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut block = ids.block.lock().unwrap_or_else(|p| p.into_inner());
            if block.is_empty() {
                *block = ids.controller.allocate_producer_ids()?;
            }
            let id = block.start;
            block.start += 1;
            Ok(id)
        })
        .await
        .map_err(|join_error| {
            ControllerError::Storage(std::io::Error::other(join_error.to_string()))
        })?
    }
}
