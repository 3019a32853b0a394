//! AWS resources on a moto server for one test: a table, the queues with their
//! dead-letter queues and an event bus, all under a unique name, created with
//! `vigil_shared::adapters::aws::provision` (the shapes the SAM template deploys).
//!
//! The moto endpoint comes from `VIGIL_MOTO_URL`. Without it a test prints a skip line
//! and passes, unless `VIGIL_REQUIRE_MOTO=1`, when it fails.
use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use vigil_shared::adapters::aws::{
    DynamoStore, EventBridgeBus, ProvisionError, SqsQueue, provision, sdk_config,
};
use vigil_shared::ports::{Delivery, Queue, QueueName};

pub use crate::moto_url::moto_url;

/// One test's resources on moto.
pub struct MotoStack {
    pub endpoint: String,
    pub sdk: SdkConfig,
    pub table: String,
    pub bus: String,
    /// `(queue URL, dead-letter queue URL)` per queue.
    pub queue_urls: HashMap<QueueName, (String, String)>,
}

impl MotoStack {
    /// The resources of one moto test (see [`MotoStack::provision`]), or `None` when
    /// [`moto_url`] says the test skips.
    ///
    /// # Panics
    /// When moto cannot provision them (or as [`moto_url`] does).
    pub async fn for_test(test: &str, label: &str) -> Option<Self> {
        let url = moto_url(test)?;
        Some(
            Self::provision(&url, label)
                .await
                .unwrap_or_else(|e| panic!("provision moto for {test}: {e}")),
        )
    }

    /// Creates `vigil-{label}-{uuid}` (table and bus) and `{label}-{uuid}-{queue}` queues.
    pub async fn provision(endpoint: &str, label: &str) -> Result<Self, ProvisionError> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        Self::provision_named(endpoint, &format!("vigil-{label}-{suffix}")).await
    }

    /// Creates table `{name}`, bus `{name}` and queues `{name}-{queue}`; existing ones
    /// are kept (the provisioning is idempotent).
    pub async fn provision_named(endpoint: &str, name: &str) -> Result<Self, ProvisionError> {
        let sdk = sdk_config(Some(endpoint)).await;
        provision::create_table(&aws_sdk_dynamodb::Client::new(&sdk), name).await?;
        let queue_urls = provision::create_queues(&aws_sdk_sqs::Client::new(&sdk), name).await?;
        provision::create_bus(&aws_sdk_eventbridge::Client::new(&sdk), name).await?;
        Ok(Self {
            endpoint: endpoint.to_string(),
            sdk,
            table: name.to_string(),
            bus: name.to_string(),
            queue_urls,
        })
    }

    /// The variables `vigil_shared::config::Config::from_env` reads for these resources:
    /// `VIGIL_TABLE`, `VIGIL_EVENT_BUS`, `VIGIL_{QUEUE}_QUEUE_URL`, `VIGIL_{QUEUE}_DLQ_URL`
    /// and `AWS_ENDPOINT_URL`.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("VIGIL_TABLE".to_string(), self.table.clone()),
            ("VIGIL_EVENT_BUS".to_string(), self.bus.clone()),
            ("AWS_ENDPOINT_URL".to_string(), self.endpoint.clone()),
        ];
        for q in QueueName::ALL {
            if let Some((url, dlq)) = self.queue_urls.get(&q) {
                let upper = q.as_str().to_ascii_uppercase();
                env.push((format!("VIGIL_{upper}_QUEUE_URL"), url.clone()));
                env.push((format!("VIGIL_{upper}_DLQ_URL"), dlq.clone()));
            }
        }
        env
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.sdk)
    }

    /// The Vigil adapters over these resources, as the functions build them.
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(self.dynamodb(), &self.table)
    }

    pub fn queue(&self) -> SqsQueue {
        SqsQueue::new(self.sqs(), self.queue_urls.clone())
    }

    pub fn event_bus(&self) -> EventBridgeBus {
        EventBridgeBus::new(self.eventbridge(), &self.bus)
    }

    /// Up to ten messages waiting on `queue`, received (so hidden for 30 s).
    ///
    /// # Panics
    /// When moto does not answer: a failed test.
    pub async fn waiting_on(&self, queue: QueueName) -> Vec<Delivery> {
        self.queue()
            .receive(queue, 10, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("receive from the {queue:?} queue: {e}"))
    }

    /// How many events the event messages waiting on `queue` carry.
    pub async fn events_waiting_on(&self, queue: QueueName) -> usize {
        self.waiting_on(queue)
            .await
            .iter()
            .map(|d| {
                serde_json::from_str::<vigil_shared::messages::EventMessage>(&d.body)
                    .unwrap_or_else(|e| panic!("an event message on {queue:?}: {e}"))
                    .events
                    .len()
            })
            .sum()
    }
}
