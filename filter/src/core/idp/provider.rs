//! One token issuer's metadata: discovery document and JWKS, fetched through the
//! shell and refreshed on a period. The state machine is pure: the shell asks
//! [`Provider::poll`] what to fetch and hands results to [`Provider::on_response`].

use sha2::{Digest, Sha256};
use std::rc::Rc;
use std::time::Duration;

use super::callout::{CalloutTarget, Clusters};
use super::metadata::Metadata;
use crate::core::identity::HeaderMapping;
use crate::core::token::{IssuerRule, KeySet};
use crate::core::web::AbsoluteUrl;

/// One trusted token issuer, as configured.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub issuer: String,
    /// Which `iss` values its tokens may carry (exact, aliases, a tenant template).
    pub rule: IssuerRule,
    pub discovery_url: AbsoluteUrl,
    pub audiences: Vec<String>,
    /// Identity headers for this issuer's tokens; `None`: the top-level ones.
    pub identity_headers: Option<Vec<HeaderMapping>>,
    /// Endpoints fixed by the configuration (GitHub): nothing is discovered or fetched,
    /// and the issuer signs no tokens this filter accepts.
    pub endpoints: Option<Metadata>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchKind {
    Discovery,
    Jwks,
}

/// Why a fetch result was not used. Logged with the issuer; never carries a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No response: connection refused, timeout, unknown cluster.
    Unreachable,
    Status(u16),
    NotJson,
    /// The discovery document names another issuer (OpenID Discovery section 4.3).
    IssuerMismatch(String),
    BadJwksUri,
    Jwks(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Unreachable => f.write_str("no response (unreachable, timed out, or unknown cluster)"),
            FetchError::Status(s) => write!(f, "HTTP status {s}"),
            FetchError::NotJson => f.write_str("body is not the expected JSON document"),
            FetchError::IssuerMismatch(got) => write!(f, "discovery names issuer {got:?}, not the configured one"),
            FetchError::BadJwksUri => f.write_str("discovery has no valid absolute jwks_uri"),
            FetchError::Jwks(e) => f.write_str(e),
        }
    }
}

/// What a response changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// The fetch chain ended (keys loaded, or a failure): waiting requests can be decided.
    pub settled: bool,
    /// The key set differs from the previous one.
    pub keys_changed: bool,
    pub error: Option<FetchError>,
}

pub struct Provider {
    pub config: IssuerConfig,
    pub metadata: Option<Metadata>,
    /// The last good keys; kept when later fetches fail.
    pub keys: Option<Rc<KeySet>>,
    keys_digest: Option<[u8; 32]>,
    in_flight: Option<FetchKind>,
    /// Discovery just loaded: fetch the JWKS next.
    jwks_due: bool,
    next_refresh_ms: u64,
    failures: u32,
    last_jwks_fetch_ms: Option<u64>,
}

pub(crate) const MAX_BACKOFF_MS: u64 = 15_000;

impl Provider {
    pub fn new(config: IssuerConfig) -> Self {
        Provider {
            metadata: config.endpoints.clone(),
            config,
            keys: None,
            keys_digest: None,
            in_flight: None,
            jwks_due: false,
            next_refresh_ms: 0,
            failures: 0,
            last_jwks_fetch_ms: None,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Whether the issuer publishes keys and signs tokens (an OpenID provider), rather
    /// than having configured endpoints only (GitHub).
    pub fn signs_tokens(&self) -> bool {
        self.config.endpoints.is_none()
    }

    /// Whether a fetch is under way (requests waiting for it will be decided when it ends).
    pub fn busy(&self) -> bool {
        self.in_flight.is_some() || self.jwks_due
    }

    /// Consecutive failed fetches.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether a request that needs the first keys or metadata should wait for them: the
    /// first fetch is still under way, or a retry is. After a failure with nothing under
    /// way, the IdP is down and waiting would only delay the 503.
    pub fn worth_waiting(&self) -> bool {
        self.failures == 0 || self.busy()
    }

    /// The next fetch to start, if any; marks it in flight.
    pub fn poll(&mut self, now_ms: u64, clusters: &Clusters) -> Option<(FetchKind, CalloutTarget)> {
        if self.in_flight.is_some() || !self.signs_tokens() {
            return None;
        }
        let (kind, url) = if self.jwks_due {
            (FetchKind::Jwks, self.metadata.as_ref()?.jwks_uri.clone())
        } else if now_ms >= self.next_refresh_ms {
            (FetchKind::Discovery, self.config.discovery_url.clone())
        } else {
            return None;
        };
        self.jwks_due = false;
        self.in_flight = Some(kind);
        if kind == FetchKind::Jwks {
            self.last_jwks_fetch_ms = Some(now_ms);
        }
        Some((kind, clusters.target(&url)))
    }

    /// The shell could not even start the callout.
    pub fn dispatch_failed(&mut self, now_ms: u64) -> Update {
        self.in_flight = None;
        self.fail(now_ms, FetchError::Unreachable)
    }

    /// Asks for a JWKS re-fetch because a token named an unknown `kid`. Refused
    /// (returns false) within `min_interval` of the last JWKS fetch.
    pub fn request_refetch(&mut self, now_ms: u64, min_interval: Duration) -> bool {
        let min_interval_ms = u64::try_from(min_interval.as_millis()).unwrap_or(u64::MAX);
        if self.metadata.is_none() || !self.signs_tokens() {
            return false;
        }
        if self.busy() {
            return true;
        }
        if self.last_jwks_fetch_ms.is_some_and(|t| now_ms < t.saturating_add(min_interval_ms)) {
            return false;
        }
        self.jwks_due = true;
        true
    }

    /// Asks for a JWKS re-fetch at once, whatever the rate limit: an ID token from the
    /// token endpoint named an unknown key (it came over the back channel, so no client
    /// can use this to make the filter hammer the IdP). Shares a fetch already due or in
    /// flight. `false` before discovery.
    pub fn request_refetch_now(&mut self) -> bool {
        if self.metadata.is_none() || !self.signs_tokens() {
            return false;
        }
        if !self.busy() {
            self.jwks_due = true;
        }
        true
    }

    fn fail(&mut self, now_ms: u64, error: FetchError) -> Update {
        self.failures = self.failures.saturating_add(1);
        let backoff = 1000u64.saturating_mul(1 << self.failures.min(6).saturating_sub(1)).min(MAX_BACKOFF_MS);
        self.next_refresh_ms = now_ms.saturating_add(backoff);
        self.jwks_due = false;
        Update { settled: true, keys_changed: false, error: Some(error) }
    }

    /// Takes a fetch result: `status` is `None` when the callout got no response.
    pub fn on_response(
        &mut self,
        kind: FetchKind,
        status: Option<u16>,
        body: &[u8],
        now_ms: u64,
        refresh: Duration,
    ) -> Update {
        let refresh_ms = u64::try_from(refresh.as_millis()).unwrap_or(u64::MAX);
        if self.in_flight != Some(kind) {
            return Update::default();
        }
        self.in_flight = None;
        match status {
            None => return self.fail(now_ms, FetchError::Unreachable),
            Some(200) => {}
            Some(s) => return self.fail(now_ms, FetchError::Status(s)),
        }
        match kind {
            FetchKind::Discovery => match Metadata::parse(body, self.config.rule.discovery_issuer()) {
                Ok(m) => {
                    self.metadata = Some(m);
                    self.jwks_due = true;
                    Update::default()
                }
                Err(e) => self.fail(now_ms, e),
            },
            FetchKind::Jwks => match KeySet::parse(body) {
                Ok(set) => {
                    let digest: [u8; 32] = Sha256::digest(body).into();
                    let keys_changed = self.keys_digest != Some(digest);
                    if keys_changed {
                        self.keys = Some(Rc::new(set));
                        self.keys_digest = Some(digest);
                    }
                    self.failures = 0;
                    self.next_refresh_ms = now_ms.saturating_add(refresh_ms);
                    Update { settled: true, keys_changed, error: None }
                }
                Err(e) => self.fail(now_ms, FetchError::Jwks(e.to_string())),
            },
        }
    }
}
