//! The worker's counters against the fake host: counted in memory, handed to Envoy on the
//! root's tick, and never lost to a new configuration or to the plugin going away.

use proxy_wasm::traits::{Context, RootContext};
use proxy_wasm::types::Action;
use serde_json::json;

use super::abi::fake::with;
use super::tests::{api_token, config, Rig, ROOT};

fn shown(name: &str) -> u64 {
    with(|h| h.metrics.iter().filter(|(n, _)| n == name).map(|(_, v)| *v).sum())
}

/// A request that began before a new configuration arrived is counted after it: its
/// count reaches Envoy on the next tick, as every other request's does.
#[test]
fn a_request_begun_before_a_new_configuration_is_still_counted() {
    let (mut rig, _) = Rig::start(&config(json!({})));
    rig.load_keys();
    let auth = format!("Bearer {}", api_token());
    let req: [(&str, &[u8]); 2] = [(":path", b"/app"), ("authorization", auth.as_bytes())];
    with(|h| {
        h.current = 3;
        h.active = 3;
        h.request_headers.insert(3, req.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect());
    });
    let mut http = rig.root.create_http_context(3).unwrap();
    with(|h| {
        h.current = ROOT;
        h.active = ROOT;
    });
    assert!(rig.root.on_configure(0), "the same configuration again");
    with(|h| {
        h.current = 3;
        h.active = 3;
    });
    assert_eq!(http.on_http_request_headers(req.len(), true), Action::Continue);
    rig.tick();
    assert_eq!(shown("oidc_gate.allowed.bearer"), 1);
}

/// Counts made since the last tick reach Envoy when the plugin goes away.
#[test]
fn counts_since_the_last_tick_are_handed_over_when_the_plugin_ends() {
    let (mut rig, _) = Rig::start(&config(json!({})));
    rig.load_keys();
    let auth = format!("Bearer {}", api_token());
    assert_eq!(rig.request(3, &[(":path", b"/app"), ("authorization", auth.as_bytes())]), Action::Continue);
    assert_eq!(shown("oidc_gate.allowed.bearer"), 0, "not before a tick");
    with(|h| {
        h.current = ROOT;
        h.active = ROOT;
    });
    assert!(rig.root.on_done());
    assert_eq!(shown("oidc_gate.allowed.bearer"), 1);
}
