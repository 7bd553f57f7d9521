// Drives built proxy-wasm modules in Node's V8 (the engine Envoy embeds) through the
// Proxy-Wasm ABI, with a host written here: each module is configured, its provider
// metadata and keys are answered to its callouts, then the per-request callbacks Envoy
// makes (context create, request headers, response headers, log, done, delete) run in a
// loop. What it times is the module's whole share of a request (SDK, shell and core, and
// the copies in and out of its memory), without Envoy's own work; it counts the host calls
// each request makes. Used by `scripts/verify-speed --module`.
//
//   node scripts/proxy-wasm-run.mjs FIXTURE.json oidc_gate.wasm noop_filter.wasm
import { WASI } from 'node:wasi';
import fs from 'node:fs';

const [fixturePath, oursPath, floorPath] = process.argv.slice(2);
const fixture = JSON.parse(fs.readFileSync(fixturePath, 'utf8'));
const enc = new TextEncoder();
const dec = new TextDecoder();
const ROOT = 1;

// Proxy-Wasm 0.2.1 numbers.
const MAP = { request: 0, response: 2, callResponse: 6 };
const BUFFER = { callResponseBody: 4, vmConfig: 6, pluginConfig: 7 };
const OK = 0, NOT_FOUND = 1;

// Encoded once per map, as Envoy holds its headers ready: the JS host's own encoding
// stays out of the figures (until the module changes the map).
const serialized = new WeakMap();
const encoded = new Map();
function encodeOnce(text) {
  let bytes = encoded.get(text);
  if (!bytes) { bytes = enc.encode(text); if (encoded.size < 1000) encoded.set(text, bytes); }
  return bytes;
}
function serializeOnce(pairs) {
  let bytes = serialized.get(pairs);
  if (!bytes) { bytes = serializePairs(pairs); serialized.set(pairs, bytes); }
  return bytes;
}

function serializePairs(pairs) {
  const parts = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)]);
  let size = 4 + parts.length * 8;
  for (const [k, v] of parts) size += k.length + 1 + v.length + 1;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, parts.length, true);
  let at = 4;
  for (const [k, v] of parts) { view.setUint32(at, k.length, true); view.setUint32(at + 4, v.length, true); at += 8; }
  for (const [k, v] of parts) { out.set(k, at); at += k.length + 1; out.set(v, at); at += v.length + 1; }
  return out;
}

function parsePairs(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const lens = [];
  for (let i = 0; i < n; i++) lens.push([view.getUint32(4 + i * 8, true), view.getUint32(8 + i * 8, true)]);
  let at = 4 + n * 8;
  const pairs = [];
  for (const [kl, vl] of lens) {
    const k = dec.decode(bytes.subarray(at, at + kl)); at += kl + 1;
    const v = dec.decode(bytes.subarray(at, at + vl)); at += vl + 1;
    pairs.push([k, v]);
  }
  return pairs;
}

class Module {
  constructor(path, config) {
    this.config = enc.encode(config === undefined ? '' : JSON.stringify(config));
    this.maps = { [MAP.request]: [], [MAP.response]: [], [MAP.callResponse]: [] };
    this.calls = new Map();     // token -> path of a callout not answered yet
    this.callBody = new Uint8Array();
    this.shared = new Map();    // key -> { value, cas }
    this.counts = {};           // host call -> times
    this.local = null;          // status of a local response
    this.nextToken = 1;
    this.clock = BigInt(Date.now()) * 1000000n;
    const wasi = new WASI({ version: 'preview1', args: [], env: {}, preopens: {} });
    const mod = new WebAssembly.Module(fs.readFileSync(path));
    const env = {};
    const count = (name, f) => (...a) => { this.counts[name] = (this.counts[name] || 0) + 1; return f(...a); };
    for (const imp of WebAssembly.Module.imports(mod)) {
      if (imp.module === 'env') env[imp.name] = count(imp.name, this.hostCall(imp.name));
    }
    // WASI's calls are counted too (a module that reads the clock or randomness per request
    // through WASI pays a host call as well).
    const wasiCounted = {};
    for (const [name, f] of Object.entries(wasi.getImportObject().wasi_snapshot_preview1)) {
      wasiCounted[name] = count(`wasi:${name}`, f);
    }
    this.inst = new WebAssembly.Instance(mod, { wasi_snapshot_preview1: wasiCounted, env });
    this.x = this.inst.exports;
    wasi.initialize(this.inst);
  }

  bytes(ptr, len) { return new Uint8Array(this.x.memory.buffer, ptr, len); }
  text(ptr, len) { return dec.decode(this.bytes(ptr, len)); }
  u32(ptr, v) { new DataView(this.x.memory.buffer).setUint32(ptr, v, true); }
  give(data, retPtr, retSize) {
    const ptr = data.length ? this.x.proxy_on_memory_allocate(data.length) : 0;
    if (data.length) this.bytes(ptr, data.length).set(data);
    this.u32(retPtr, ptr);
    this.u32(retSize, data.length);
    return OK;
  }

  hostCall(name) {
    const h = {
      proxy_log: (level, ptr, len) => { if (level >= 3 && process.env.SHOW_LOG) console.error(this.text(ptr, len)); return OK; },
      proxy_get_buffer_bytes: (type, start, max, retPtr, retSize) => {
        const data = type === BUFFER.pluginConfig ? this.config : type === BUFFER.callResponseBody ? this.callBody : null;
        if (!data || (type === BUFFER.pluginConfig && data.length === 0)) return NOT_FOUND;
        return this.give(data.subarray(start >>> 0, (start >>> 0) + (max >>> 0)), retPtr, retSize);
      },
      proxy_get_header_map_pairs: (type, retPtr, retSize) => this.give(serializeOnce(this.maps[type] || []), retPtr, retSize),
      proxy_get_header_map_value: (type, kp, kl, retPtr, retSize) => {
        const key = this.text(kp, kl);
        const hit = (this.maps[type] || []).find(([k]) => k === key);
        return hit ? this.give(encodeOnce(hit[1]), retPtr, retSize) : NOT_FOUND;
      },
      proxy_replace_header_map_value: (type, kp, kl, vp, vl) => {
        const key = this.text(kp, kl), value = this.text(vp, vl);
        const map = (this.maps[type] || []).filter(([k]) => k !== key);
        map.push([key, value]);
        this.maps[type] = map;
        return OK;
      },
      proxy_add_header_map_value: (type, kp, kl, vp, vl) => { this.maps[type] = [...(this.maps[type] || []), [this.text(kp, kl), this.text(vp, vl)]]; return OK; },
      proxy_remove_header_map_value: (type, kp, kl) => {
        const key = this.text(kp, kl);
        this.maps[type] = (this.maps[type] || []).filter(([k]) => k !== key);
        return OK;
      },
      proxy_get_current_time_nanoseconds: (retPtr) => {
        this.clock += 1000n;
        new DataView(this.x.memory.buffer).setBigUint64(retPtr, this.clock, true);
        return OK;
      },
      proxy_http_call: (up, ul, hp, hl, bp, bl, tp, tl, timeout, retToken) => {
        const headers = parsePairs(this.bytes(hp, hl).slice());
        const path = (headers.find(([k]) => k === ':path') || [])[1] || '';
        const token = this.nextToken++;
        this.calls.set(token, path);
        this.u32(retToken, token);
        return OK;
      },
      proxy_get_shared_data: (kp, kl, retVal, retSize, retCas) => {
        const hit = this.shared.get(this.text(kp, kl));
        if (!hit) return NOT_FOUND;
        this.give(hit.value, retVal, retSize);
        this.u32(retCas, hit.cas);
        return OK;
      },
      proxy_set_shared_data: (kp, kl, vp, vl, cas) => {
        const key = this.text(kp, kl);
        const old = this.shared.get(key);
        if (cas !== 0 && old && old.cas !== cas) return 8; // CasMismatch
        this.shared.set(key, { value: this.bytes(vp, vl).slice(), cas: (old ? old.cas : 0) + 1 });
        return OK;
      },
      proxy_define_metric: (type, np, nl, retId) => { this.u32(retId, (this.metricId = (this.metricId || 0) + 1)); return OK; },
      proxy_send_local_response: (status) => { this.local = status; return OK; },
      proxy_get_property: () => NOT_FOUND,
    }[name];
    return h || (() => OK);
  }

  // Answers the module's callouts to the provider (metadata, keys) until none is left.
  answerCalls() {
    for (let round = 0; round < 10 && this.calls.size; round++) {
      for (const [token, path] of [...this.calls]) {
        this.calls.delete(token);
        const body = path.endsWith('/jwks') ? fixture.jwks : fixture.metadata;
        this.callBody = enc.encode(JSON.stringify(body));
        this.maps[MAP.callResponse] = [[':status', '200'], ['content-type', 'application/json']];
        this.x.proxy_on_http_call_response(ROOT, token, 2, this.callBody.length, 0);
      }
    }
  }

  start() {
    this.x.proxy_on_context_create(ROOT, 0);
    this.x.proxy_on_vm_start(ROOT, 0);
    if (!this.x.proxy_on_configure(ROOT, this.config.length)) throw new Error('configuration refused');
    for (let i = 0; i < 3; i++) { this.x.proxy_on_tick(ROOT); this.answerCalls(); }
  }

  // One request through every callback Envoy makes; returns the action on its headers.
  request(id, headers) {
    this.maps[MAP.request] = headers;
    this.maps[MAP.response] = [[':status', '200'], ['content-length', '0']];
    this.local = null;
    this.x.proxy_on_context_create(id, ROOT);
    const action = this.x.proxy_on_request_headers(id, headers.length, 1);
    this.x.proxy_on_response_headers(id, 2, 1);
    this.x.proxy_on_log(id);
    this.x.proxy_on_done(id);
    this.x.proxy_on_delete(id);
    return action;
  }
}

const cases = [
  ['API request, cached bearer token', [[':path', '/orders'], [':method', 'GET'], [':authority', 'api.example.com'],
    [':scheme', 'http'], ['user-agent', 'wrk'], ['authorization', `Bearer ${fixture.token}`]]],
  ['browser request, session cookie', [[':path', '/'], [':method', 'GET'], [':authority', 'app.example.com'],
    [':scheme', 'http'], ['user-agent', 'Mozilla/5.0'], ['accept', 'text/html'], ['cookie', fixture.cookie]]],
];

const only = process.env.CASE; if (only) cases.splice(0, cases.length, ...cases.filter(([l]) => l.includes(only)));
const modules = [['oidc-gate', new Module(oursPath, fixture.config)], ['floor', new Module(floorPath)]];
for (const [, m] of modules) m.start();
let id = 100;
for (const [label, headers] of cases) {
  const results = {};
  for (const [name, m] of modules) {
    const first = m.request(id++, headers);
    const upstream = Object.fromEntries(m.maps[MAP.request].filter(([k]) => k.startsWith('x-')));
    if (name === 'oidc-gate' && (first !== 0 || m.local !== null)) {
      throw new Error(`${label}: not let through (action ${first}, local response ${m.local})`);
    }
    for (let i = 0; i < 20000; i++) m.request(id++, headers);
    m.counts = {};
    m.request(id++, headers);
    const calls = Object.entries(m.counts).map(([k, v]) => `${k.replace('proxy_', '')}${v > 1 ? ' x' + v : ''}`).join(', ');
    let best = Infinity;
    for (let batch = 0; batch < (+process.env.BATCHES || 40); batch++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 500; i++) m.request(id++, headers);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 500 / 1000);
    }
    results[name] = best;
    console.log(`${label.padEnd(34)} ${name.padEnd(10)} ${best.toFixed(2).padStart(6)} us  host calls: ${calls}`);
    if (name === 'oidc-gate') console.log(`${''.padEnd(45)}upstream gets ${JSON.stringify(upstream)}`);
  }
  console.log(`${label.padEnd(34)} oidc-gate - floor: +${(results['oidc-gate'] - results.floor).toFixed(2)} us`);
}
