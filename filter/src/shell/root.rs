//! The root context: configuration, IdP metadata fetches, and the requests that wait for them.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::abi;
use super::carry::{carry, with_gate, Carried};
use super::host::{self, HostHeaders, HostRandom, HostStore, Metrics};
use super::http::Http;
use super::paused::Paused;
use crate::core::config::{self, secret::ProcessEnv};
use crate::core::gate::{Answer, Counter, Decision, Denial, Gate, Pending, WaitFor};
use crate::core::idp::{FetchKind, Update};
use crate::core::shared::{flight, revoked, LocalStore};

/// Everything one worker shares between its root and its requests.
pub struct Worker {
    pub gate: Gate,
    pub paused: Paused,
    /// Shared data when the host has none (then this worker works alone).
    pub local: LocalStore,
    pub shared_broken: bool,
    /// Callouts in flight for requests (at most [`super::paused::MAX_CALLOUTS`]).
    pub calls: usize,
}

/// Who a callout of the root is for.
enum Owner {
    /// Issuer `n`'s discovery or JWKS.
    Fetch(usize, FetchKind),
    /// A request that waited and went on to make its own callout (a login whose keys
    /// came): the answer goes to the gate for it.
    Request(u32, Pending),
}

/// The kinds of one-call-per-Envoy flights (their shared slots are created at start).
const FLIGHT_KINDS: [&str; 2] = ["introspect", "refresh"];

/// How often the root looks at due fetches, paused requests and shared calls.
const TICK_MS: u32 = 200;

#[derive(Default)]
pub struct Root {
    worker: Option<Rc<RefCell<Worker>>>,
    pub(super) metrics: Rc<Metrics>,
    callouts: HashMap<u32, Owner>,
}

impl Root {
    /// Starts every fetch that is due.
    fn dispatch(&mut self) {
        let Some(worker) = self.worker.clone() else { return };
        let now = host::now_ms();
        let mut settled = Vec::new();
        {
            let Some(mut w) = borrow(&worker) else { return };
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
                    match abi::http_call(&target.cluster, headers, None, timeout) {
                        Ok(token) => {
                            self.callouts.insert(token, Owner::Fetch(idx, kind));
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
            self.settle(Some(WaitFor::Provider(idx)));
        }
    }

    /// Decides again the requests taken from the paused set: those waiting on `on`, or,
    /// with `None`, those that waited longer than `startup_wait`. A request that paused
    /// with an exchange under way takes it up again instead.
    fn settle(&mut self, on: Option<WaitFor>) {
        let Some(worker) = self.worker.clone() else { return };
        let now = host::now_ms();
        let waiters = {
            let Some(mut w) = borrow(&worker) else { return };
            let wait = w.gate.config.startup_wait;
            match &on {
                Some(on) => w.paused.take_waiting_on(on),
                None => w.paused.take_expired(now, wait),
            }
        };
        for (id, pending) in waiters {
            if abi::set_effective_context(id).is_err() {
                continue;
            }
            let mut rng = HostRandom::default();
            // Decided again: with the keys or metadata still missing, an API request gets 503
            // and a browser the "sign-in unavailable" page. Headers are read from the paused
            // request itself (the effective context).
            // A request whose issuer's fetch settled may wait once more, for another
            // request's shared call (an introspection or refresh of the same credential
            // started meanwhile): its answer is what this one needs, and it comes within
            // idp_timeout. A provider wait cannot repeat: a failed fetch leaves nothing
            // worth waiting for. After startup_wait, or a shared call, no more waiting.
            let again = matches!(on, Some(WaitFor::Provider(_)));
            let mut headers = HostHeaders::later();
            let decision = with_gate(&worker, &self.metrics, &mut rng, |g, io| match pending {
                Some(p) => g.resume_after_wait(p, now, &mut headers, io),
                None => g.decide(&mut headers, now, again, io),
            });
            let decision = decision.unwrap_or(Decision::Deny(Denial::Unavailable));
            self.carry_for(&worker, id, decision, &mut rng, &mut headers);
        }
    }

    /// Carries out a decision for a request from the root's side of things.
    fn carry_for(
        &mut self,
        worker: &Rc<RefCell<Worker>>,
        id: u32,
        decision: Decision,
        rng: &mut HostRandom,
        headers: &mut HostHeaders,
    ) {
        match carry(worker, &self.metrics, id, decision, rng, headers) {
            Carried::Continue(set_cookies) => {
                if let Ok(mut w) = worker.try_borrow_mut() {
                    w.paused.keep_cookies(id, set_cookies);
                }
                let _ = abi::resume_request();
            }
            Carried::Calling(token, pending) => {
                self.callouts.insert(token, Owner::Request(id, pending));
            }
            // Only a request decided at its headers reads its body (a paused one never
            // becomes a back-channel logout).
            Carried::ReadBody => {
                host::send(&Denial::Unavailable.response("oidc-gate", None));
            }
            Carried::Answered | Carried::Paused => {}
        }
    }

    /// Requests that wait for a shared call whose slot is no longer busy.
    fn settle_flights(&mut self) {
        let Some(worker) = self.worker.clone() else { return };
        let now = host::now_ms();
        let done: Vec<WaitFor> = {
            let Some(mut w) = borrow(&worker) else { return };
            let Worker { paused, local, shared_broken, .. } = &mut *w;
            let mut store = HostStore { local, broken: shared_broken };
            let waited = paused.waited_for();
            waited
                .into_iter()
                .filter(|on| matches!(on, WaitFor::Flight(k) if !flight::busy(&mut store, k, now)))
                .collect()
        };
        for on in done {
            self.settle(Some(on));
        }
    }

    fn handle_update(&mut self, idx: usize, kind: FetchKind, update: Update) {
        let Some(worker) = self.worker.clone() else { return };
        {
            let Some(mut w) = borrow(&worker) else { return };
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
                w.gate.keys_changed();
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
            self.settle(Some(WaitFor::Provider(idx)));
        }
    }
}

/// The worker's state, or `None` (logged) in the one case a `RefCell` would panic: a
/// host call that re-entered the VM while the state is in use. Envoy does not do that;
/// if it ever did, the event is dropped rather than the VM aborted.
fn borrow(worker: &RefCell<Worker>) -> Option<std::cell::RefMut<'_, Worker>> {
    let w = worker.try_borrow_mut().ok();
    if w.is_none() {
        host::log(LogLevel::Critical, "oidc-gate: worker state re-entered; event dropped");
    }
    w
}

fn failure_counter(kind: FetchKind) -> Counter {
    match kind {
        FetchKind::Discovery => Counter::DiscoveryFailure,
        FetchKind::Jwks => Counter::JwksFailure,
    }
}

impl Context for Root {
    /// The plugin is going away (a new configuration replaced it, or Envoy stops): the
    /// counts made since the last tick are handed over, not lost.
    fn on_done(&mut self) -> bool {
        self.metrics.flush();
        true
    }

    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let Some(owner) = self.callouts.remove(&token_id) else { return };
        let (status, body) = host::callout_response(body_size);
        let Some(worker) = self.worker.clone() else { return };
        let (idx, kind) = match owner {
            Owner::Fetch(idx, kind) => (idx, kind),
            Owner::Request(id, pending) => {
                super::carry::call_ended(&worker);
                // The request may be gone (its client left): then its answer is dropped.
                if abi::set_effective_context(id).is_ok() {
                    let mut rng = HostRandom::default();
                    let now = host::now_ms();
                    let answer = Answer { status, body: &body };
                    let mut headers = HostHeaders::later();
                    let decision = with_gate(&worker, &self.metrics, &mut rng, |g, io| {
                        g.resume(pending, answer, now, &mut headers, io)
                    });
                    let decision = decision.unwrap_or(Decision::Deny(Denial::Unavailable));
                    self.carry_for(&worker, id, decision, &mut rng, &mut headers);
                }
                return;
            }
        };
        let update = {
            let Some(mut w) = borrow(&worker) else { return };
            let refresh = w.gate.config.metadata_refresh;
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
        #[cfg(feature = "step-probe")]
        host::log(LogLevel::Critical, super::step_probe::WARNING);
        let bytes = abi::buffer(BufferType::PluginConfiguration, 0, usize::MAX).unwrap_or_default();
        match config::load(&bytes, &ProcessEnv) {
            Ok(cfg) => {
                // Defined once per root: requests that began before a new configuration hold
                // this same table, so their counts still reach Envoy on the next tick.
                self.metrics.flush();
                if !self.metrics.is_defined() {
                    self.metrics = Rc::new(Metrics::define());
                }
                let issuers: Vec<&str> = cfg.issuers.iter().map(|i| i.issuer.as_str()).collect();
                let version = env!("CARGO_PKG_VERSION");
                host::log(LogLevel::Info, &format!("oidc-gate {version}: configured for issuers {issuers:?}"));
                for w in cfg.warnings() {
                    let level = if w.warn { LogLevel::Warn } else { LogLevel::Info };
                    host::log(level, &format!("oidc-gate: {}", w.text));
                }
                let gate = Gate::new(Rc::new(cfg));
                self.worker = Some(Rc::new(RefCell::new(Worker {
                    gate,
                    paused: Paused::default(),
                    local: LocalStore::default(),
                    shared_broken: false,
                    calls: 0,
                })));
                if let Some(w) = self.worker.as_ref() {
                    if let Ok(mut w) = w.try_borrow_mut() {
                        let Worker { gate, local, shared_broken, .. } = &mut *w;
                        let mut store = HostStore { local, broken: shared_broken };
                        for kind in FLIGHT_KINDS {
                            flight::create_slots(&mut store, kind);
                        }
                        let backchannel = gate.config.login.as_ref().and_then(|l| l.backchannel.as_ref());
                        if let Some(bc) = backchannel {
                            revoked::create(&mut store, &bc.keys);
                        }
                    }
                }
                let _ = abi::set_tick_period_ms(TICK_MS);
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
        self.metrics.flush();
        self.dispatch();
        let has_waiting = self.worker.as_ref().is_some_and(|w| w.try_borrow().is_ok_and(|w| !w.paused.is_empty()));
        if has_waiting {
            self.settle_flights();
            self.settle(None);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            id: context_id,
            worker: self.worker.clone(),
            metrics: self.metrics.clone(),
            set_cookies: Vec::new(),
            pending: None,
            body: super::http::Body::Pass,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
