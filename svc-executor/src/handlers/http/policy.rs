//! What `http` tasks may reach. Tenants choose the URL, so every address we connect to — after
//! DNS and after each redirect — is checked against the operator's policy; otherwise a task
//! could reach the cloud metadata service or internal admin ports (SSRF). Two gates: IP literals
//! in `check_target` before each request, names in `CheckingResolver` at connect time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::handlers::HandlerError::{self, Permanent};

/// What the operator lets tasks reach.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// 127.0.0.0/8 and ::1 (dev setups call local services)...
    pub allow_loopback: bool,
    /// ... on these ports only, when listed: then only IP-literal URLs (`http://127.0.0.1:PORT`)
    /// reach loopback, since a name's resolution happens where the port is not known. A dev
    /// setup lists a range that holds none of the platform's own ports, so a task cannot reach
    /// the schema registry, the brokers or the services' unauthenticated endpoints.
    pub loopback_ports: LoopbackPorts,
    /// RFC 1918, CGNAT 100.64.0.0/10 and unique-local fc00::/7. Link-local (cloud metadata),
    /// unspecified, multicast, documentation and other reserved ranges are never allowed.
    pub allow_private: bool,
    pub max_response_bytes: usize,
    pub max_redirects: usize,
    pub connect_timeout: Duration,
    /// Deadline for the whole task, all redirect hops and the body included.
    pub request_timeout: Duration,
    pub user_agent: String,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            allow_loopback: false,
            loopback_ports: LoopbackPorts::Any,
            allow_private: false,
            max_response_bytes: 64 * 1024,
            max_redirects: 5,
            connect_timeout: Duration::from_secs(5),
            // A backstop only: the task's own `timeout_ms` (at most 1 h) ends the attempt first, as
            // `timed_out` (30 s here cut longer calls short and counted them as failed).
            request_timeout: Duration::from_secs(3_600),
            user_agent: concat!("taskflow-executor/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Which loopback ports tasks may reach (when loopback is allowed at all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LoopbackPorts {
    #[default]
    Any,
    /// Inclusive ranges, e.g. `18200-18299,8080`.
    Only(Vec<(u16, u16)>),
}

impl LoopbackPorts {
    fn allows(&self, port: u16) -> bool {
        match self {
            LoopbackPorts::Any => true,
            LoopbackPorts::Only(ranges) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port))
            }
        }
    }
}

impl std::fmt::Display for LoopbackPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoopbackPorts::Any => f.write_str("any"),
            LoopbackPorts::Only(ranges) => {
                let each: Vec<String> = ranges
                    .iter()
                    .map(|(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}-{hi}")
                        }
                    })
                    .collect();
                f.write_str(&each.join(","))
            }
        }
    }
}

impl std::str::FromStr for LoopbackPorts {
    type Err = String;

    /// `any`, or a comma-separated list of ports and inclusive ranges (`18200-18299,8080`).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("any") {
            return Ok(LoopbackPorts::Any);
        }
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{p:?} is not a port (1-65535)"))
        };
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let range = match part.split_once('-') {
                Some((lo, hi)) => (port(lo)?, port(hi)?),
                None => (port(part)?, port(part)?),
            };
            if range.0 > range.1 {
                return Err(format!("{part:?}: the range ends before it starts"));
            }
            ranges.push(range);
        }
        Ok(LoopbackPorts::Only(ranges))
    }
}

enum Scope {
    Global,
    Loopback,
    Private,
    Never,
}

fn scope_v4(ip: Ipv4Addr) -> Scope {
    match ip.octets() {
        [127, ..] => Scope::Loopback,
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] | [100, 64..=127, ..] => Scope::Private,
        // 0/8 (0.0.0.0 reaches localhost on Linux), multicast, reserved, broadcast, link-local,
        // IETF, documentation, 6to4 relay and benchmarking.
        [0 | 224..=255, ..] | [169, 254, ..] | [192, 0, 0 | 2, _] => Scope::Never,
        [192, 88, 99, _] | [198, 18..=19, ..] | [198, 51, 100, _] | [203, 0, 113, _] => {
            Scope::Never
        }
        _ => Scope::Global,
    }
}

fn scope_v6(ip: Ipv6Addr) -> Scope {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return scope_v4(v4);
    }
    let embedded =
        |hi: u16, lo: u16| scope_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    match ip.segments() {
        [0, 0, 0, 0, 0, 0, 0, 1] => Scope::Loopback,
        // NAT64 and 6to4 carry an IPv4 destination: judge that one.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x2002, hi, lo, ..] => embedded(hi, lo),
        // 2001::/23 (IETF, Teredo) and 2001:db8::/32 (documentation).
        [0x2001, x, ..] if x < 0x200 || x == 0xdb8 => Scope::Never,
        [x, ..] if x & 0xfe00 == 0xfc00 || x & 0xffc0 == 0xfec0 => Scope::Private,
        [x, ..] if x & 0xe000 == 0x2000 => Scope::Global,
        // ::, IPv4-compatible, link-local fe80::/10, multicast, discard-only, unallocated.
        _ => Scope::Never,
    }
}

/// Whether tasks may connect to `ip` under `policy`.
pub fn is_allowed(ip: IpAddr, policy: &HttpPolicy) -> bool {
    let scope = match ip {
        IpAddr::V4(v4) => scope_v4(v4),
        IpAddr::V6(v6) => scope_v6(v6),
    };
    match scope {
        Scope::Global => true,
        // Through a name (the resolver knows no port): only when any port may be reached.
        Scope::Loopback => policy.allow_loopback && policy.loopback_ports == LoopbackPorts::Any,
        Scope::Private => policy.allow_private,
        Scope::Never => false,
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(scope_v4(v4), Scope::Loopback),
        IpAddr::V6(v6) => matches!(scope_v6(v6), Scope::Loopback),
    }
}

/// Whether tasks may connect to `ip`:`port` given as an IP literal.
fn is_allowed_literal(ip: IpAddr, port: u16, policy: &HttpPolicy) -> bool {
    if is_loopback(ip) {
        policy.allow_loopback && policy.loopback_ports.allows(port)
    } else {
        is_allowed(ip, policy)
    }
}

/// Checks a request's target before it is sent (the first and every redirect): only http(s),
/// and an IP literal, which never reaches the resolver, by the policy here.
pub(super) fn check_target(url: &Url, policy: &HttpPolicy) -> Result<(), HandlerError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Permanent(format!("refused: {url} is not an http(s) url")));
    }
    let host = url.host_str().unwrap_or_default();
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(0);
    if let Ok(ip) = literal.parse::<IpAddr>()
        && !is_allowed_literal(ip, port, policy)
    {
        if is_loopback(ip) && policy.allow_loopback {
            return Err(Permanent(format!(
                "refused: port {port} of {ip} is not one tasks may reach (loopback ports: {})",
                policy.loopback_ports
            )));
        }
        return Err(Permanent(Refused(ip).to_string()));
    }
    Ok(())
}

/// A connection refused by the policy; the handler finds it in a request error's causes.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0} is a private/loopback/link-local address")]
pub(super) struct Refused(IpAddr);

/// Checks at connect time the very addresses the connection will use, so a DNS answer that
/// changes between a check and the connect (rebinding) cannot slip through.
pub(super) struct CheckingResolver(pub(super) Arc<HttpPolicy>);

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.0);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Vec<SocketAddr> = addrs.collect();
            // One bad record refuses the name: mixing public and internal answers is a rebinding trick.
            if let Some(bad) = addrs.iter().find(|a| !is_allowed(a.ip(), &policy)) {
                return Err(Box::new(Refused(bad.ip())) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;

    use serde_json::json;

    use super::super::HttpHandler;
    use super::super::test_server::{allowing, call, loopback, run, serve};
    use super::*;
    use crate::handlers::HandlerError::Retryable;

    #[tokio::test]
    async fn listed_loopback_ports_are_reached_by_ip_and_nothing_else_on_loopback() {
        let (port, hits) = serve().await;
        let mut policy = loopback();
        policy.loopback_ports = LoopbackPorts::Only(vec![(port, port)]);
        let result = call(policy.clone(), &format!("http://127.0.0.1:{port}/ok"))
            .await
            .expect("a listed port");
        assert_eq!(result["status"], 200);
        // Another loopback port (the schema registry's in a dev setup): refused, no connection.
        let other = if port == 18081 { 18082 } else { 18081 };
        let before = hits.load(SeqCst);
        let err = call(
            policy.clone(),
            &format!("http://127.0.0.1:{other}/apis/registry/v3"),
        )
        .await
        .expect_err("an unlisted port");
        assert!(
            matches!(&err, Permanent(m) if m.contains(&format!("port {other} of 127.0.0.1 is not one tasks may reach")) && m.contains(&port.to_string())),
            "{err:?}"
        );
        // By name the port cannot be checked where the address is: refused even when listed.
        let err = call(policy.clone(), &format!("http://localhost:{port}/ok"))
            .await
            .expect_err("a name");
        assert!(
            matches!(&err, Permanent(m) | Retryable(m) if m.contains("refused")),
            "{err:?}"
        );
        assert_eq!(hits.load(SeqCst), before, "nothing reached the server");
    }

    #[tokio::test]
    async fn internal_targets_are_refused_before_connecting() {
        let (port, hits) = serve().await;
        let urls = [
            format!("http://127.0.0.1:{port}/ok"),
            format!("http://localhost:{port}/ok"),
            format!("http://[::ffff:127.0.0.1]:{port}/ok"),
            format!("http://2130706433:{port}/ok"), // 127.0.0.1 spelled as a number
            "http://[::1]/".into(),
            "http://10.0.0.1/".into(),
            "http://169.254.169.254/latest/meta-data/".into(),
            "http://192.168.1.1/".into(),
        ];
        let handler = HttpHandler::new(HttpPolicy::default()).expect("client");
        for url in urls {
            let err = run(&handler, &json!({ "url": url })).await.expect_err(&url);
            let refused = "is a private/loopback/link-local address";
            assert!(
                matches!(&err, Permanent(m) if m.starts_with("refused: ") && m.ends_with(refused)),
                "{url}: {err}"
            );
        }
        assert_eq!(hits.load(SeqCst), 0);
    }

    #[test]
    fn loopback_ports_are_any_or_a_list_of_ports_and_ranges() {
        assert_eq!(
            "18200-18299, 8080".parse::<LoopbackPorts>(),
            Ok(LoopbackPorts::Only(vec![(18200, 18299), (8080, 8080)]))
        );
        assert_eq!("any".parse::<LoopbackPorts>(), Ok(LoopbackPorts::Any));
        for bad in ["", "0", "70000", "9-3", "x"] {
            assert!(bad.parse::<LoopbackPorts>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn classifier() {
        let policies = [HttpPolicy::default(), loopback(), allowing(false, true)];
        // Allowed by: the default policy, allow_loopback, allow_private.
        let table = [
            (
                [true, true, true],
                "8.8.8.8 172.32.0.1 2606:4700:4700::1111",
            ),
            (
                [false, true, false],
                "127.0.0.1 ::1 ::ffff:127.0.0.1 2002:7f00:1::",
            ),
            (
                [false, false, true],
                "10.1.2.3 172.16.0.1 192.168.1.1 100.64.0.1",
            ),
            ([false, false, true], "fc00::1 fd12::1 ::ffff:10.0.0.1"),
            (
                [false, false, false],
                "169.254.169.254 fe80::1 0.0.0.0 :: 255.255.255.255",
            ),
            (
                [false, false, false],
                "224.0.0.1 ff02::1 192.0.2.1 2001:db8::1 64:ff9b::a9fe:a9fe",
            ),
        ];
        for (expected, ips) in table {
            for ip in ips.split_whitespace() {
                let ip: IpAddr = ip.parse().expect("ip");
                let allowed = policies.each_ref().map(|p| is_allowed(ip, p));
                assert_eq!(allowed, expected, "{ip}");
            }
        }
    }
}
