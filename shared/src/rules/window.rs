//! Sliding-window counts on event time, so the result does not depend on the order
//! in which events arrive.
use chrono::{DateTime, Duration, Utc};

use crate::domain::Event;

/// The densest window of length `width` that contains `t`, over `events` sorted by time.
/// A window ending at `e` holds the events in `(e - width, e]`. Returns the events in it.
pub fn densest_window<'a>(
    events: &[&'a Event],
    t: DateTime<Utc>,
    width: Duration,
) -> Vec<&'a Event> {
    let mut best: (usize, usize) = (0, 0);
    let mut start = 0;
    for (end, e) in events.iter().enumerate() {
        if e.timestamp < t {
            continue;
        }
        if e.timestamp - t >= width {
            break;
        }
        while start < end && events[start].timestamp <= e.timestamp - width {
            start += 1;
        }
        if end + 1 - start > best.1 - best.0 {
            best = (start, end + 1);
        }
    }
    events[best.0..best.1].to_vec()
}

/// Events in `[from, to)`.
pub fn between<'a>(events: &[&'a Event], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.timestamp >= from && e.timestamp < to)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventType;

    fn ev(min: i64) -> Event {
        Event {
            id: format!("e{min}"),
            event_type: EventType::parse("login_failed").unwrap(),
            timestamp: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .to_utc()
                + Duration::minutes(min),
            user: "u".into(),
            source: None,
            raw_data: Default::default(),
            received_at: Utc::now(),
        }
    }

    #[test]
    fn finds_the_densest_window_containing_t_regardless_of_side() {
        let evs: Vec<Event> = [0, 10, 20, 65, 70, 75, 80].into_iter().map(ev).collect();
        let refs: Vec<&Event> = evs.iter().collect();
        // Around minute 20 the densest hour is (15, 75]: 20, 65, 70, 75.
        let w = densest_window(&refs, evs[2].timestamp, Duration::hours(1));
        assert_eq!(w.len(), 4);
        // Around minute 0 only windows ending before minute 60 qualify: 0, 10, 20.
        let w = densest_window(&refs, evs[0].timestamp, Duration::hours(1));
        assert_eq!(w.len(), 3);
        // Around minute 70 two hours hold four events; the earliest wins.
        let w = densest_window(&refs, evs[4].timestamp, Duration::hours(1));
        assert_eq!(
            w.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["e20", "e65", "e70", "e75"]
        );
    }

    #[test]
    fn window_edges_are_half_open() {
        let evs: Vec<Event> = [0, 60].into_iter().map(ev).collect();
        let refs: Vec<&Event> = evs.iter().collect();
        assert_eq!(
            densest_window(&refs, evs[1].timestamp, Duration::hours(1)).len(),
            1
        );
        let evs: Vec<Event> = [0, 59].into_iter().map(ev).collect();
        let refs: Vec<&Event> = evs.iter().collect();
        assert_eq!(
            densest_window(&refs, evs[1].timestamp, Duration::hours(1)).len(),
            2
        );
    }
}
