//! Findings and events as OCSF documents (Open Cybersecurity Schema Framework), of one
//! pinned schema version, for the SIEMs and data lakes that read OCSF.
//!
//! A finding is a Detection Finding (2004); each event is an Authentication (3002),
//! Account Change (3001) or API Activity (6003) event, or a Base Event (0) when Vigil
//! does not know its type. `tests/ocsf/schema/<VERSION>/` holds the JSON Schemas
//! generated from the ocsf-schema repository that the tests validate every document
//! against.
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

mod event;
mod finding;

pub use event::event;
pub use finding::finding;

/// The OCSF schema version every document declares (`metadata.version`).
pub const VERSION: &str = "1.8.0";
const PRODUCT: &str = "Vigil";

/// OCSF times are epoch milliseconds.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// `metadata`: the product that wrote the document and the schema version it follows.
fn metadata(uid: &str, logged: DateTime<Utc>, modified: DateTime<Utc>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "product".into(),
        json!({
            "name": PRODUCT,
            "vendor_name": PRODUCT,
            "version": env!("CARGO_PKG_VERSION"),
        }),
    );
    m.insert("version".into(), json!(VERSION));
    m.insert("uid".into(), json!(uid));
    m.insert("logged_time".into(), json!(ms(logged)));
    if modified != logged {
        m.insert("modified_time".into(), json!(ms(modified)));
    }
    m
}

/// The classification attributes of a class: ids, their captions, and
/// `type_uid = class_uid * 100 + activity_id`.
struct Class {
    category_uid: u32,
    category_name: &'static str,
    class_uid: u32,
    class_name: &'static str,
}

const DETECTION_FINDING: Class = Class {
    category_uid: 2,
    category_name: "Findings",
    class_uid: 2004,
    class_name: "Detection Finding",
};
const AUTHENTICATION: Class = Class {
    category_uid: 3,
    category_name: "Identity & Access Management",
    class_uid: 3002,
    class_name: "Authentication",
};
const ACCOUNT_CHANGE: Class = Class {
    category_uid: 3,
    category_name: "Identity & Access Management",
    class_uid: 3001,
    class_name: "Account Change",
};
const API_ACTIVITY: Class = Class {
    category_uid: 6,
    category_name: "Application Activity",
    class_uid: 6003,
    class_name: "API Activity",
};
const BASE_EVENT: Class = Class {
    category_uid: 0,
    category_name: "Uncategorized",
    class_uid: 0,
    class_name: "Base Event",
};

impl Class {
    fn classify(&self, doc: &mut Map<String, Value>, activity_id: u32, activity_name: &str) {
        let type_uid = u64::from(self.class_uid) * 100 + u64::from(activity_id);
        for (k, v) in [
            ("category_uid", json!(self.category_uid)),
            ("category_name", json!(self.category_name)),
            ("class_uid", json!(self.class_uid)),
            ("class_name", json!(self.class_name)),
            ("activity_id", json!(activity_id)),
            ("activity_name", json!(activity_name)),
            ("type_uid", json!(type_uid)),
            (
                "type_name",
                json!(format!("{}: {activity_name}", self.class_name)),
            ),
        ] {
            doc.insert(k.into(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_uid_is_class_times_hundred_plus_activity() {
        let mut doc = Map::new();
        DETECTION_FINDING.classify(&mut doc, 2, "Update");
        assert_eq!(doc["type_uid"], 200402);
        assert_eq!(doc["type_name"], "Detection Finding: Update");
        BASE_EVENT.classify(&mut doc, 99, "Other");
        assert_eq!(doc["type_uid"], 99);
    }
}
