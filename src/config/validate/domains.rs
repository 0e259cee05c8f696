//! `domains:`: names, DKIM selectors, sending IPs and ranges.

use std::collections::HashMap;

use ipnet::IpNet;

use super::Validator;
use crate::config::keypath::KeyPath;
use crate::config::model::{DomainName, DomainSettings};
use crate::config::net;
use crate::config::raw::RawDomain;

impl Validator<'_> {
    pub(super) fn domains(&mut self, raw: Vec<RawDomain>, path: &KeyPath) -> Vec<DomainSettings> {
        let mut out = Vec::with_capacity(raw.len());
        let mut seen: HashMap<DomainName, usize> = HashMap::new();
        for (i, domain) in raw.into_iter().enumerate() {
            let entry = path.index(i);
            let name_path = entry.key("name");
            let name = match DomainName::parse(&domain.name) {
                Ok(name) if !name.as_str().contains('.') => {
                    self.problem(
                        name_path,
                        format!(
                            "{:?} is a single label; a sending domain looks like example.com",
                            domain.name
                        ),
                    );
                    None
                }
                Ok(name) => {
                    if let Some(first) = seen.insert(name.clone(), i) {
                        self.problem(
                            name_path,
                            format!(
                                "{name} is already listed as {}; merge the two entries",
                                path.index(first)
                            ),
                        );
                    }
                    Some(name)
                }
                Err(e) => {
                    self.problem(name_path, format!("not a domain name: {e}"));
                    None
                }
            };
            let dkim_selectors = self.selectors(&domain.dkim_selectors, &entry, name.as_ref());
            let sending_ips = self.sending_ips(&domain.sending_ips, &entry.key("sending_ips"));
            if let Some(name) = name {
                out.push(DomainSettings {
                    name,
                    dkim_selectors,
                    sending_ips,
                });
            }
        }
        out
    }

    fn selectors(
        &mut self,
        raw: &[String],
        entry: &KeyPath,
        domain: Option<&DomainName>,
    ) -> Vec<String> {
        let list = entry.key("dkim_selectors");
        let mut out: Vec<String> = Vec::new();
        let mut seen = HashMap::new();
        for (i, text) in raw.iter().enumerate() {
            let item = list.index(i);
            let Ok(selector) = net::parse_selector(text).map_err(|e| self.problem(item.clone(), e))
            else {
                continue;
            };
            if let Some(first) = seen.insert(selector.clone(), i) {
                self.problem(
                    item,
                    format!("{selector} is already listed as {}", list.index(first)),
                );
                continue;
            }
            // RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 as text.
            if let Some(domain) = domain {
                let len = selector.len() + "._domainkey.".len() + domain.as_str().len();
                if len > 253 {
                    self.problem(
                        item,
                        format!("{selector}._domainkey.{domain} is {len} bytes, longer than a DNS name can be (253)"),
                    );
                    continue;
                }
            }
            out.push(selector);
        }
        out
    }

    fn sending_ips(&mut self, raw: &[String], list: &KeyPath) -> Vec<IpNet> {
        let mut out: Vec<IpNet> = Vec::new();
        let mut seen = HashMap::new();
        for (i, text) in raw.iter().enumerate() {
            let item = list.index(i);
            let Ok(net) = net::parse_ip_or_net(text).map_err(|e| self.problem(item.clone(), e))
            else {
                continue;
            };
            if let Some(first) = seen.insert(net, i) {
                self.problem(
                    item,
                    format!("{text} is already listed as {}", list.index(first)),
                );
                continue;
            }
            out.push(net);
        }
        out
    }
}
