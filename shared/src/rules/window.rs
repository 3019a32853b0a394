//! Sliding windows on event time, so results do not depend on the order in which
//! events arrive.
use chrono::{DateTime, Duration, Utc};

use crate::domain::Event;

/// Every window of length `width` that contains `t` and ends at an event, over `events`
/// sorted by time: a window ending at `e` holds the events in `(e - width, e]`. Each
/// window is returned as the range of `events` it holds.
pub fn windows_containing(
    events: &[&Event],
    t: DateTime<Utc>,
    width: Duration,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (end, e) in events.iter().enumerate() {
        while start < end && events[start].timestamp <= e.timestamp - width {
            start += 1;
        }
        if e.timestamp < t {
            continue;
        }
        if e.timestamp - t >= width {
            break;
        }
        out.push(start..end + 1);
    }
    out
}

/// The densest window of length `width` that contains `t` (see [`windows_containing`]);
/// the earliest of equals. Returns the events in it.
pub fn densest_window<'a>(
    events: &[&'a Event],
    t: DateTime<Utc>,
    width: Duration,
) -> Vec<&'a Event> {
    let mut best = 0..0;
    for w in windows_containing(events, t, width) {
        if w.len() > best.len() {
            best = w;
        }
    }
    events[best].to_vec()
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
            client_id: None,
            event_type: EventType::parse("login_failed").unwrap(),
            timestamp: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .to_utc()
                + Duration::minutes(min),
            user: "u".into(),
            source: None,
            raw_data: Default::default(),
            received_at: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .to_utc(),
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

    #[test]
    fn lists_every_window_holding_t() {
        let evs: Vec<Event> = [0, 5, 9, 14, 30].into_iter().map(ev).collect();
        let refs: Vec<&Event> = evs.iter().collect();
        // Windows of 10 minutes holding minute 5 end at 5 and 9 (14 - 10 = 4 < 5 too).
        let w = windows_containing(&refs, evs[1].timestamp, Duration::minutes(10));
        assert_eq!(w, vec![0..2, 0..3, 1..4]);
    }
}
