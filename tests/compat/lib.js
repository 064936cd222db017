'use strict';
// Shared harness for the compat scripts: each check prints one line, `ok NAME` or
// `not ok NAME: expected X, got Y`; run.sh counts them. Servers come from run.sh's env.
const assert = require('node:assert');
const util = require('node:util');

const PORT = Number(process.env.KW_PORT || 6379);
const AUTH_PORT = Number(process.env.KW_AUTH_PORT || 0);
const PASSWORD = process.env.KW_PASSWORD || '';
const HOST = '127.0.0.1';

let passed = 0;
let failed = 0;

function show(v) {
  return util.inspect(v, { depth: 6, breakLength: Infinity, maxArrayLength: 20 });
}

function ok(name) {
  passed++;
  console.log(`ok ${name}`);
}

function fail(name, why) {
  failed++;
  console.log(`not ok ${name}: ${why}`);
}

// Deep equality; a mismatch prints both sides.
function eq(name, got, expected) {
  try {
    assert.deepStrictEqual(got, expected);
    ok(name);
  } catch {
    fail(name, `expected ${show(expected)}, got ${show(got)}`);
  }
}

function truthy(name, cond, detail) {
  if (cond) ok(name);
  else fail(name, `condition false${detail === undefined ? '' : `; got ${show(detail)}`}`);
}

// Runs an async check; a thrown error is a failure with its message.
async function check(name, fn) {
  try {
    await fn();
    ok(name);
  } catch (e) {
    fail(name, e && e.message ? e.message : show(e));
  }
}

// Expects `fn` to reject with an error whose message contains `text`.
async function rejects(name, fn, text) {
  try {
    const v = await fn();
    fail(name, `expected an error containing ${show(text)}, got reply ${show(v)}`);
  } catch (e) {
    const msg = e && e.message ? e.message : String(e);
    if (msg.includes(text)) ok(name);
    else fail(name, `expected an error containing ${show(text)}, got ${show(msg)}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, cond, timeoutMs = 10000, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

// A unique key prefix per script so scripts never see each other's keys.
function prefix(tag) {
  return `compat:${tag}:${process.pid}:`;
}

// Call at the end: prints the per-script summary and sets the exit code.
function done(tag) {
  console.log(`# ${tag}: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

// Unhandled errors must fail the script, not pass silently.
function guard(tag, main) {
  main()
    .catch((e) => fail(`${tag} (script aborted)`, e && e.stack ? e.stack : show(e)))
    .finally(() => {
      done(tag);
      // Clients left open by a failure must not keep the process alive.
      setTimeout(() => process.exit(process.exitCode), 200).unref();
    });
}

module.exports = { PORT, AUTH_PORT, PASSWORD, HOST, ok, fail, eq, truthy, check, rejects, sleep, waitFor, prefix, guard, show };
