//! Encoded records and the requests packed from them: what the ingest exporter hands to
//! delivery, and what delivery re-packs, splits and spools. Below both, so neither imports the
//! other.

use std::collections::BTreeSet;
use std::ops::Range;

/// The arrays of the ingest body, in the order a request lists them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Section {
    Sessions,
    Traces,
    Spans,
    Events,
    Findings,
}

impl Section {
    const ALL: [Section; 5] = [
        Section::Sessions,
        Section::Traces,
        Section::Spans,
        Section::Events,
        Section::Findings,
    ];

    /// The section a body's key names.
    pub(crate) fn from_key(key: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.key() == key)
    }

    fn key(self) -> &'static str {
        match self {
            Section::Sessions => "Sessions",
            Section::Traces => "Traces",
            Section::Spans => "Spans",
            Section::Events => "Events",
            Section::Findings => "Findings",
        }
    }
}

/// One record, serialised once: retries and re-packing reuse these bytes, so a record's XIDs
/// never change between attempts.
#[derive(Clone, Debug)]
pub(crate) struct Encoded {
    pub(crate) section: Section,
    pub(crate) json: Vec<u8>,
}

/// A request body, the number of records in it, and where they lie in the packed slice.
pub(crate) struct Request {
    pub(crate) body: Vec<u8>,
    pub(crate) records: u64,
    pub(crate) range: Range<usize>,
}

/// Pack records into request bodies of at most `max_records` records and `max_bytes` bytes.
/// A record larger than `max_bytes` on its own goes alone.
pub(crate) fn pack(records: &[Encoded], max_records: usize, max_bytes: usize) -> Vec<Request> {
    let mut requests = Vec::new();
    let mut group: Vec<&Encoded> = Vec::new();
    let mut start = 0;
    let mut size = 2; // {}
    let mut sections = BTreeSet::new();
    for (i, r) in records.iter().enumerate() {
        let section_cost = if sections.contains(&r.section) {
            0
        } else {
            r.section.key().len() + 6
        };
        let cost = r.json.len() + 1 + section_cost;
        if !group.is_empty() && (group.len() >= max_records || size + cost > max_bytes) {
            requests.push(Request {
                range: start..i,
                ..assemble(&group)
            });
            start = i;
            group.clear();
            sections.clear();
            size = 2;
        }
        let section_cost = if sections.contains(&r.section) {
            0
        } else {
            r.section.key().len() + 6
        };
        size += r.json.len() + 1 + section_cost;
        sections.insert(r.section);
        group.push(r);
    }
    if !group.is_empty() {
        requests.push(Request {
            range: start..records.len(),
            ..assemble(&group)
        });
    }
    requests
}

/// One request body holding `group`, each record in its section.
pub(crate) fn assemble(group: &[&Encoded]) -> Request {
    let mut body = Vec::with_capacity(group.iter().map(|r| r.json.len() + 1).sum::<usize>() + 64);
    body.push(b'{');
    let mut first_section = true;
    for section in Section::ALL {
        let mut first = true;
        for r in group.iter().filter(|r| r.section == section) {
            if first {
                if !first_section {
                    body.push(b',');
                }
                body.extend_from_slice(format!("\"{}\":[", section.key()).as_bytes());
                first = false;
                first_section = false;
            } else {
                body.push(b',');
            }
            body.extend_from_slice(&r.json);
        }
        if !first {
            body.push(b']');
        }
    }
    body.push(b'}');
    Request {
        body,
        records: group.len() as u64,
        range: 0..group.len(),
    }
}

/// Records of several traces, encoded one trace at a time, as one batch: one session record
/// per distinct session, then traces, spans, events and findings (a trace is never sent after
/// its spans), each section in the order given.
pub(crate) fn in_send_order(mut records: Vec<Encoded>) -> Vec<Encoded> {
    let mut seen = std::collections::HashSet::new();
    records.retain(|r| r.section != Section::Sessions || seen.insert(r.json.clone()));
    records.sort_by_key(|r| r.section);
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(section: Section, n: usize) -> Encoded {
        Encoded {
            section,
            json: format!("{{\"Name\":\"{}\"}}", "x".repeat(n)).into_bytes(),
        }
    }

    #[test]
    fn packs_by_count_and_bytes_into_valid_json() {
        let records: Vec<Encoded> = (0..10)
            .map(|i| {
                rec(
                    if i % 2 == 0 {
                        Section::Spans
                    } else {
                        Section::Events
                    },
                    100,
                )
            })
            .collect();
        let by_count = pack(&records, 3, 1 << 20);
        assert_eq!(
            by_count.iter().map(|r| r.records).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        let by_bytes = pack(&records, 1000, 400);
        assert!(by_bytes.len() > 2);
        for r in by_count.iter().chain(&by_bytes) {
            assert!(
                r.body.len() <= 400
                    || r.records == 1
                    || by_count.iter().any(|c| std::ptr::eq(c, r))
            );
            let v: serde_json::Value = serde_json::from_slice(&r.body).expect("valid JSON");
            let n: usize = ["Spans", "Events"]
                .iter()
                .map(|k| v.get(k).map_or(0, |a| a.as_array().map_or(0, Vec::len)))
                .sum();
            assert_eq!(n as u64, r.records);
        }
        assert_eq!(by_bytes.iter().map(|r| r.records).sum::<u64>(), 10);
        assert!(
            by_bytes.iter().all(|r| r.body.len() <= 400),
            "every body within the byte limit"
        );
    }

    #[test]
    fn an_oversized_record_goes_alone() {
        let records = vec![
            rec(Section::Spans, 10),
            rec(Section::Spans, 5000),
            rec(Section::Spans, 10),
        ];
        let reqs = pack(&records, 100, 1024);
        assert_eq!(
            reqs.iter().map(|r| r.records).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }
}
