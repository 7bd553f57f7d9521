// Runs a wasm32-wasip1 command module in Node's V8 (the engine Envoy embeds), with the
// proxy-wasm host functions stubbed: for timing the filter's code where it runs
// (scripts/verify-speed).
import { WASI } from 'node:wasi';
import fs from 'node:fs';
const wasi = new WASI({ version: 'preview1', args: [], env: {}, preopens: {} });
const mod = await WebAssembly.compile(fs.readFileSync(process.argv[2]));
const env = {}; for (const imp of WebAssembly.Module.imports(mod)) if (imp.module === 'env') env[imp.name] = () => 0;
const inst = await WebAssembly.instantiate(mod, { ...wasi.getImportObject(), env });
wasi.start({ exports: { memory: inst.exports.memory, _start: inst.exports._start } });
