//! The client's address, for rate limits, login budgets and audit.
//!
//! Behind a load balancer every connection comes from the balancer, so everyone would share one
//! address and one login budget. Proxies listed in `CDTG_TRUSTED_PROXIES` are believed when they
//! say whom they forward for (`Forwarded: for=…`, else `X-Forwarded-For`); nobody else is, since
//! any client can send those headers. The chain is read from the right (the hop nearest to us)
//! and the first address that is not a trusted proxy is the client.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;
use ipnet::IpNet;

/// Networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8, 127.0.0.1, ::1`: networks or single addresses, comma-separated.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("trusted proxies: {item:?} is not an address or network")
                })?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address the request came from, as far as trusted proxies vouch for it.
    pub fn client_address(&self, req: &HttpRequest) -> String {
        let Some(peer) = req.peer_addr().map(|a| canonical(a.ip())) else {
            return String::new();
        };
        if !self.trusts(peer) {
            return peer.to_string();
        }
        let chain = forwarded_chain(req);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                // Garbage in the chain was written by whoever is left of the last trusted hop:
                // stop at the hop we can vouch for.
                None => break,
                Some(ip) if self.trusts(*ip) => client = *ip,
                Some(ip) => return ip.to_string(),
            }
        }
        client.to_string()
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarded-for chain, leftmost (original client) first; `None` for an entry that is not
/// an address (`unknown`, an obfuscated identifier, garbage). `Forwarded` wins over
/// `X-Forwarded-For` when both are present.
fn forwarded_chain(req: &HttpRequest) -> Vec<Option<IpAddr>> {
    let values = |name: header::HeaderName| -> Vec<String> {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    };
    let forwarded = values(header::FORWARDED);
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(v.trim().trim_matches('"')))
                })
            })
            .collect();
    }
    values(header::HeaderName::from_static("x-forwarded-for"))
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| parse_node(s.trim()))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn from(peer: &str, headers: &[(&str, &str)], trusted: &str) -> String {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            req = req.append_header((*k, *v));
        }
        TrustedProxies::parse(trusted)
            .unwrap()
            .client_address(&req.to_http_request())
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        assert_eq!(
            from("203.0.113.9:5000", &[("x-forwarded-for", "1.2.3.4")], ""),
            "203.0.113.9"
        );
        assert_eq!(
            from(
                "203.0.113.9:5000",
                &[("x-forwarded-for", "1.2.3.4")],
                "10.0.0.0/8"
            ),
            "203.0.113.9"
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = "10.0.0.0/8";
        // The client forged a left-most entry; the balancer appended the real address.
        assert_eq!(
            from(
                "10.0.0.5:80",
                &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.9")],
                trusted
            ),
            "198.51.100.7"
        );
        assert_eq!(
            from(
                "10.0.0.5:80",
                &[(
                    "forwarded",
                    "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https"
                )],
                trusted
            ),
            "2001:db8::7"
        );
        assert_eq!(
            from(
                "10.0.0.5:80",
                &[("forwarded", "for=198.51.100.7:1234")],
                trusted
            ),
            "198.51.100.7"
        );
        // Every hop trusted: the left-most one is as far as we can see.
        assert_eq!(
            from("10.0.0.5:80", &[("x-forwarded-for", "10.1.1.1")], trusted),
            "10.1.1.1"
        );
        // Garbage right after the trusted hop: stop there.
        assert_eq!(
            from(
                "10.0.0.5:80",
                &[("x-forwarded-for", "1.1.1.1, junk")],
                trusted
            ),
            "10.0.0.5"
        );
        assert_eq!(from("10.0.0.5:80", &[], trusted), "10.0.0.5");
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/8, ::1, 127.0.0.1").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }
}
