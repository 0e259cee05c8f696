//! DNS messages on the wire (RFC 1035 §4): the query we send, which reply may answer it, and what a
//! reply says once accepted. Transport-free, so the UDP pool, the TCP fallback and the tests share it.

use std::collections::HashSet;
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, RecordType};

use super::answer::MAX_CNAME_CHAIN;
use super::cache::{Fetched, RecordKind};
use super::resolve::name_text;
use super::{Answer, LookupError, Mx, Rdata, Records, Txt};

/// The EDNS(0) UDP payload we advertise: 1232 bytes fits any path's MTU without IP fragmentation
/// (DNS Flag Day 2020); a longer answer comes back truncated and is asked again over TCP.
pub(crate) const EDNS_PAYLOAD: u16 = 1232;

/// RFC 1035 §4.1.1: the fixed header every message starts with.
pub(crate) const HEADER_LEN: usize = 12;

/// One question: a name and a record type, class IN.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    /// The name as raw labels (see [`super::resolve::wire_name`]).
    pub name: Name,
    /// The record type asked for.
    pub kind: RecordKind,
}

impl Question {
    /// The record type on the wire.
    pub(crate) fn record_type(&self) -> RecordType {
        match self.kind {
            RecordKind::Txt => RecordType::TXT,
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Mx => RecordType::MX,
            RecordKind::Ptr => RecordType::PTR,
            RecordKind::Cname => RecordType::CNAME,
        }
    }

    /// The query message with id `id`: recursion desired, EDNS(0) with [`EDNS_PAYLOAD`].
    pub(crate) fn encode(&self, id: u16) -> Result<Vec<u8>, LookupError> {
        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        let mut query = Query::query(self.name.clone(), self.record_type());
        query.set_query_class(DNSClass::IN);
        message.add_query(query);
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        message.set_edns(edns);
        message
            .to_vec()
            .map_err(|e| LookupError::Other(format!("cannot encode the query: {e}")))
    }

    /// Whether `reply` answers this question: a response to a standard query whose one question is
    /// this name (any case, RFC 4343), type and class IN. The id and the sender are checked by the
    /// transport before the message is even decoded.
    pub(crate) fn is_answered_by(&self, reply: &Message) -> bool {
        reply.metadata.message_type == MessageType::Response
            && reply.metadata.op_code == OpCode::Query
            && matches!(reply.queries.as_slice(), [q]
                if q.query_type() == self.record_type()
                    && q.query_class() == DNSClass::IN
                    && same_name(q.name(), &self.name))
    }
}

/// Names equal label by label, ASCII case ignored (RFC 4343 §3).
pub(crate) fn same_name(a: &Name, b: &Name) -> bool {
    a.num_labels() == b.num_labels()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// What an accepted reply says.
pub(crate) enum Reading {
    /// A final answer (records, NXDOMAIN, NODATA) or a failure rcode.
    Done(Fetched),
    /// The name is an alias whose target this reply does not answer (an authoritative server answers
    /// a CNAME out of its zone with the CNAME alone): ask again at `target`.
    Alias {
        /// The CNAME targets followed, in order; the last is `target`.
        chain: Vec<String>,
        /// Where to ask next.
        target: Name,
        /// The smallest TTL along the chain.
        ttl: u32,
    },
}

/// Read an accepted reply to `question`. Only records on the CNAME chain from the question's name
/// count: anything else in the answer section is not believed (RFC 2181 §5.4.1); an answer holding
/// records of the asked type for other names only is a failure, never "no such record".
pub(crate) fn read(reply: &Message, question: &Question) -> Reading {
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Reading::Done(negative(reply, Answer::NxDomain)),
        ResponseCode::ServFail => return failed(LookupError::ServFail),
        ResponseCode::Refused => return failed(LookupError::Refused),
        other => return failed(LookupError::Other(format!("the server answered {other}"))),
    }
    let wanted = question.record_type();
    let mut owner = question.name.clone();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut chain = Vec::new();
    let mut ttl = u32::MAX;
    let mut items = Vec::new();
    // Each step moves along one CNAME, so the answer section bounds the walk.
    for _ in 0..=reply.answers.len() {
        let here = reply
            .answers
            .iter()
            .filter(|r| r.dns_class == DNSClass::IN && same_name(&r.name, &owner));
        let mut alias = None;
        for record in here {
            match (&record.data, question.kind) {
                (RData::CNAME(target), RecordKind::Cname) => {
                    ttl = ttl.min(record.ttl);
                    items.push(Rdata::Name(name_text(&target.0)));
                }
                (RData::CNAME(target), _) => {
                    alias.get_or_insert((record.ttl, target.0.clone()));
                }
                (data, _) if record.record_type() == wanted => {
                    if let Some(item) = convert(data) {
                        ttl = ttl.min(record.ttl);
                        items.push(item);
                    }
                }
                _ => {}
            }
        }
        if !items.is_empty() {
            break;
        }
        let Some((alias_ttl, target)) = alias else {
            break;
        };
        if !seen.insert(key(&owner)) || seen.contains(&key(&target)) {
            return failed(LookupError::Other(format!(
                "CNAME loop at {}",
                name_text(&target)
            )));
        }
        ttl = ttl.min(alias_ttl);
        chain.push(name_text(&target));
        if chain.len() > MAX_CNAME_CHAIN {
            return failed(LookupError::Other(format!(
                "CNAME chain from {} longer than {MAX_CNAME_CHAIN} names",
                name_text(&question.name)
            )));
        }
        owner = target;
    }
    if items.is_empty() {
        if chain.is_empty() {
            // Records of the asked type, all for other names: a broken or lying server, not NODATA.
            if let Some(other) = reply
                .answers
                .iter()
                .find(|r| r.record_type() == wanted && !same_name(&r.name, &question.name))
            {
                return failed(LookupError::Other(format!(
                    "the answer for {} holds records for another name ({})",
                    name_text(&question.name),
                    name_text(&other.name)
                )));
            }
            return Reading::Done(negative(reply, Answer::NoData));
        }
        return Reading::Alias {
            chain,
            target: owner,
            ttl,
        };
    }
    let ttl = if ttl == u32::MAX { 0 } else { ttl };
    Reading::Done(Fetched {
        result: Ok(Answer::Records(Records {
            items,
            ttl,
            aliases: chain,
        })),
        ttl: Duration::from_secs(u64::from(ttl)),
    })
}

/// A name's labels in lower case: how a CNAME loop is recognised.
pub(crate) fn key(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for label in name.iter() {
        out.extend(label.iter().map(u8::to_ascii_lowercase));
        out.push(b'.');
    }
    out
}

/// NXDOMAIN or NODATA, cached for the SOA's negative TTL (RFC 2308 §5: the smaller of the SOA
/// record's TTL and its MINIMUM field); without an SOA, not cached.
fn negative(reply: &Message, answer: Answer<Rdata>) -> Fetched {
    let ttl = reply
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .unwrap_or(0);
    Fetched {
        result: Ok(answer),
        ttl: Duration::from_secs(u64::from(ttl)),
    }
}

fn failed(error: LookupError) -> Reading {
    Reading::Done(Fetched {
        result: Err(error),
        ttl: Duration::ZERO,
    })
}

fn convert(data: &RData) -> Option<Rdata> {
    Some(match data {
        RData::TXT(txt) => Rdata::Txt(Txt {
            strings: txt.txt_data.iter().map(|s| s.to_vec()).collect(),
        }),
        RData::A(a) => Rdata::A(a.0),
        RData::AAAA(aaaa) => Rdata::Aaaa(aaaa.0),
        RData::MX(mx) => Rdata::Mx(Mx {
            preference: mx.preference,
            exchange: name_text(&mx.exchange),
        }),
        RData::PTR(ptr) => Rdata::Name(name_text(&ptr.0)),
        _ => return None,
    })
}

/// The reply a server would send to `query` with `answers` and `rcode` (tests).
#[cfg(test)]
pub(crate) fn reply_to(
    query: &[u8],
    answers: Vec<hickory_resolver::proto::rr::Record>,
    rcode: ResponseCode,
) -> Option<Message> {
    let request = Message::from_vec(query).ok()?;
    let mut reply = Message::response(request.metadata.id, OpCode::Query);
    reply.metadata.response_code = rcode;
    reply.add_queries(request.queries);
    reply.add_answers(answers);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::{A, CNAME, SOA};

    use super::*;
    use crate::dns::resolve::wire_name;

    fn question(name: &str, kind: RecordKind) -> Question {
        Question {
            name: wire_name(name).unwrap(),
            kind,
        }
    }

    fn name(s: &str) -> Name {
        wire_name(s).unwrap()
    }

    #[test]
    fn a_reply_must_carry_the_same_question() {
        let q = question("a.example", RecordKind::A);
        let bytes = q.encode(7).unwrap();
        let reply = reply_to(&bytes, vec![], ResponseCode::NoError).unwrap();
        assert!(q.is_answered_by(&reply));
        // RFC 4343: case does not matter.
        assert!(question("A.EXAMPLE", RecordKind::A).is_answered_by(&reply));
        assert!(!question("b.example", RecordKind::A).is_answered_by(&reply));
        assert!(!question("a.example", RecordKind::Txt).is_answered_by(&reply));
        // A query is not a reply.
        let query = Message::from_vec(&bytes).unwrap();
        assert!(!q.is_answered_by(&query));
    }

    #[test]
    fn only_the_cname_chain_is_believed() {
        let q = question("www.example", RecordKind::A);
        let bytes = q.encode(1).unwrap();
        let answers = vec![
            Record::from_rdata(
                name("www.example"),
                300,
                RData::CNAME(CNAME(name("host.example"))),
            ),
            Record::from_rdata(
                name("host.example"),
                60,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
            ),
            // Not on the chain: ignored.
            Record::from_rdata(
                name("bank.example"),
                60,
                RData::A(A(Ipv4Addr::new(203, 0, 113, 6))),
            ),
        ];
        let reply = reply_to(&bytes, answers, ResponseCode::NoError).unwrap();
        let Reading::Done(f) = read(&reply, &q) else {
            panic!("expected a final answer")
        };
        let Ok(Answer::Records(r)) = f.result else {
            panic!("expected records")
        };
        assert_eq!(r.items, vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))]);
        assert_eq!(r.aliases, vec!["host.example".to_owned()]);
        assert_eq!(r.ttl, 60);
        // Only records for another name: a failure, not NODATA.
        let q = question("www.example", RecordKind::A);
        let answers = vec![Record::from_rdata(
            name("bank.example"),
            60,
            RData::A(A(Ipv4Addr::new(203, 0, 113, 6))),
        )];
        let reply = reply_to(&bytes, answers, ResponseCode::NoError).unwrap();
        assert!(
            matches!(read(&reply, &q), Reading::Done(Fetched { result: Err(LookupError::Other(m)), .. }) if m.contains("another name (bank.example)"))
        );
    }

    #[test]
    fn an_alias_out_of_the_reply_is_asked_again_and_loops_fail() {
        let q = question("www.example", RecordKind::Txt);
        let bytes = q.encode(1).unwrap();
        let cname = |from: &str, to: &str| {
            Record::from_rdata(name(from), 300, RData::CNAME(CNAME(name(to))))
        };
        let reply = reply_to(
            &bytes,
            vec![cname("www.example", "elsewhere.test")],
            ResponseCode::NoError,
        )
        .unwrap();
        assert!(
            matches!(read(&reply, &q), Reading::Alias { ref chain, .. } if chain == &["elsewhere.test"])
        );
        let looped = reply_to(
            &bytes,
            vec![
                cname("www.example", "b.example"),
                cname("b.example", "WWW.example"),
            ],
            ResponseCode::NoError,
        )
        .unwrap();
        assert!(
            matches!(read(&looped, &q), Reading::Done(Fetched { result: Err(LookupError::Other(m)), .. }) if m.contains("CNAME loop"))
        );
    }

    #[test]
    fn negative_answers_keep_the_soa_ttl_and_rcodes_stay_apart() {
        let q = question("nope.example", RecordKind::A);
        let bytes = q.encode(1).unwrap();
        let mut reply = reply_to(&bytes, vec![], ResponseCode::NXDomain).unwrap();
        let soa = SOA::new(name("ns.example"), name("host.example"), 1, 2, 3, 4, 30);
        reply.add_authority(Record::from_rdata(name("example"), 600, RData::SOA(soa)));
        let Reading::Done(f) = read(&reply, &q) else {
            panic!()
        };
        assert_eq!(f.result, Ok(Answer::NxDomain));
        assert_eq!(f.ttl, Duration::from_secs(30));
        for (rcode, expected) in [
            (ResponseCode::ServFail, LookupError::ServFail),
            (ResponseCode::Refused, LookupError::Refused),
        ] {
            let reply = reply_to(&bytes, vec![], rcode).unwrap();
            let Reading::Done(f) = read(&reply, &q) else {
                panic!()
            };
            assert_eq!(f.result, Err(expected));
        }
        let empty = reply_to(&bytes, vec![], ResponseCode::NoError).unwrap();
        let Reading::Done(f) = read(&empty, &q) else {
            panic!()
        };
        assert_eq!(f.result, Ok(Answer::NoData));
    }
}
