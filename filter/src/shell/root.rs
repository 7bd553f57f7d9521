//! The root context: configuration, IdP metadata fetches, and the requests that wait for them.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MapType};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

use super::host::{self, Metrics};
use super::http::{apply, Http};
use crate::core::config;
use crate::core::gate::{Decision, Gate, RequestFacts};
use crate::core::metrics::Counter;
use crate::core::provider::{FetchKind, Update};
use crate::core::response::Denial;
use crate::core::secret::ProcessEnv;

/// Responses larger than this from the IdP are refused.
const MAX_METADATA_BYTES: usize = 1024 * 1024;

pub struct Waiting {
    pub facts: RequestFacts,
    pub provider: usize,
    pub since_ms: u64,
}

/// Everything one worker shares between its root and its requests.
pub struct Worker {
    pub gate: Gate,
    pub waiting: BTreeMap<u32, Waiting>,
}

#[derive(Default)]
pub struct Root {
    worker: Option<Rc<RefCell<Worker>>>,
    metrics: Rc<Metrics>,
    callouts: HashMap<u32, (usize, FetchKind)>,
}

pub fn counter_for(denial: Denial) -> Counter {
    match denial {
        Denial::MissingToken => Counter::DeniedMissingToken,
        Denial::InvalidToken(e) => Counter::DeniedInvalidToken(e),
        Denial::Unavailable => Counter::DeniedUnavailable,
    }
}

impl Root {
    /// Starts every fetch that is due.
    fn dispatch(&mut self) {
        let Some(worker) = self.worker.clone() else { return };
        let now = host::now_ms();
        let mut settled = Vec::new();
        {
            let mut w = worker.borrow_mut();
            let config = w.gate.config.clone();
            let timeout = config.idp_timeout;
            for (idx, provider) in w.gate.providers.iter_mut().enumerate() {
                while let Some((kind, target)) = provider.poll(now, &config.clusters) {
                    let headers = vec![
                        (":method", "GET"),
                        (":path", target.path.as_str()),
                        (":authority", target.authority.as_str()),
                        ("accept", "application/json"),
                        ("user-agent", "oidc-gate"),
                    ];
                    self.metrics.inc(match kind {
                        FetchKind::Discovery => Counter::DiscoveryFetch,
                        FetchKind::Jwks => Counter::JwksFetch,
                    });
                    match hostcalls::dispatch_http_call(&target.cluster, headers, None, vec![], timeout) {
                        Ok(token) => {
                            self.callouts.insert(token, (idx, kind));
                        }
                        Err(status) => {
                            host::log(
                                LogLevel::Error,
                                &format!(
                                    "oidc-gate: issuer {}: cannot call cluster {:?} ({status:?}); is it defined?",
                                    provider.issuer(),
                                    target.cluster
                                ),
                            );
                            self.metrics.inc(failure_counter(kind));
                            let update = provider.dispatch_failed(now);
                            if update.settled {
                                settled.push(idx);
                            }
                        }
                    }
                }
            }
        }
        for idx in settled {
            self.settle(idx, false);
        }
    }

    /// Decides the requests waiting on `provider` (all of them when `only_expired` is false;
    /// with it, those that waited longer than `startup_wait`).
    fn settle(&mut self, provider: usize, only_expired: bool) {
        let Some(worker) = self.worker.clone() else { return };
        let now = host::now_ms();
        let metrics = self.metrics.clone();
        let mut decided = Vec::new();
        let config;
        {
            let mut w = worker.borrow_mut();
            config = w.gate.config.clone();
            let wait_ms = w.gate.config.startup_wait.as_millis() as u64;
            let ids: Vec<u32> =
                w.waiting
                    .iter()
                    .filter(|(_, x)| {
                        if only_expired {
                            now >= x.since_ms.saturating_add(wait_ms)
                        } else {
                            x.provider == provider
                        }
                    })
                    .map(|(id, _)| *id)
                    .collect();
            for id in ids {
                let Some(entry) = w.waiting.remove(&id) else { continue };
                let decision = if only_expired {
                    Decision::Deny(Denial::Unavailable)
                } else {
                    w.gate.decide(&entry.facts, now, false, &mut |c| metrics.inc(c))
                };
                decided.push((id, decision));
            }
        }
        for (id, decision) in decided {
            if hostcalls::set_effective_context(id).is_err() {
                continue;
            }
            if apply(&decision, &config, &self.metrics) {
                let _ = hostcalls::resume_http_request();
            }
        }
    }

    fn handle_update(&mut self, idx: usize, kind: FetchKind, update: Update) {
        let Some(worker) = self.worker.clone() else { return };
        {
            let mut w = worker.borrow_mut();
            let issuer = w.gate.providers.get(idx).map(|p| p.issuer().to_string()).unwrap_or_default();
            if let Some(e) = &update.error {
                self.metrics.inc(failure_counter(kind));
                let what = match kind {
                    FetchKind::Discovery => "discovery",
                    FetchKind::Jwks => "JWKS",
                };
                let kept = if w.gate.providers.get(idx).is_some_and(|p| p.keys.is_some()) {
                    "; keeping the last good keys"
                } else {
                    ""
                };
                host::log(LogLevel::Warn, &format!("oidc-gate: issuer {issuer}: {what} fetch failed: {e}{kept}"));
            }
            if update.keys_changed {
                w.gate.cache.clear();
                let (n, skipped) = w
                    .gate
                    .providers
                    .get(idx)
                    .and_then(|p| p.keys.as_ref())
                    .map_or((0, 0), |k| (k.keys.len(), k.skipped));
                host::log(
                    LogLevel::Info,
                    &format!("oidc-gate: issuer {issuer}: loaded {n} signing keys ({skipped} skipped)"),
                );
            }
        }
        if update.settled {
            self.settle(idx, false);
        }
    }
}

fn failure_counter(kind: FetchKind) -> Counter {
    match kind {
        FetchKind::Discovery => Counter::DiscoveryFailure,
        FetchKind::Jwks => Counter::JwksFailure,
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let Some((idx, kind)) = self.callouts.remove(&token_id) else { return };
        let status = hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        let (status, body) = if body_size > MAX_METADATA_BYTES {
            (Some(413), Vec::new())
        } else {
            let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default();
            (status, body)
        };
        let Some(worker) = self.worker.clone() else { return };
        let update = {
            let mut w = worker.borrow_mut();
            let refresh = w.gate.config.metadata_refresh.as_millis() as u64;
            match w.gate.providers.get_mut(idx) {
                Some(p) => p.on_response(kind, status, &body, host::now_ms(), refresh),
                None => return,
            }
        };
        self.handle_update(idx, kind, update);
        self.dispatch();
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes =
            hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX).ok().flatten().unwrap_or_default();
        match config::load(&bytes, &ProcessEnv) {
            Ok(cfg) => {
                self.metrics = Rc::new(Metrics::define());
                let issuers: Vec<&str> = cfg.issuers.iter().map(|i| i.issuer.as_str()).collect();
                host::log(LogLevel::Info, &format!("oidc-gate: configured for issuers {issuers:?}"));
                self.worker =
                    Some(Rc::new(RefCell::new(Worker { gate: Gate::new(Rc::new(cfg)), waiting: BTreeMap::new() })));
                let _ = hostcalls::set_tick_period(Duration::from_millis(500));
                self.dispatch();
                true
            }
            Err(errors) => {
                for e in &errors {
                    host::log(LogLevel::Critical, &format!("oidc-gate: config error: {e}"));
                }
                host::log(
                    LogLevel::Critical,
                    &format!("oidc-gate: refusing the configuration ({} errors)", errors.len()),
                );
                false
            }
        }
    }

    fn on_tick(&mut self) {
        self.dispatch();
        let has_waiting = self.worker.as_ref().is_some_and(|w| !w.borrow().waiting.is_empty());
        if has_waiting {
            self.settle(0, true);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            id: context_id,
            worker: self.worker.clone(),
            metrics: self.metrics.clone(),
            waiting: false,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
