#!/usr/bin/env node
// Runs the mocha suite in test/integration inside a real VS Code (code-server's workbench in
// headless Chromium, driven by playwright-core), offline. Plain Node so it runs before any build.
// Exit code: 0 only when the in-host runner reported a clean, non-empty run; 1 on test failures;
// 2 on timeout or a server that died; 3 on a driver error; 4 on a malformed exit; 5 when the
// workbench says 0 but the runner never reported (a crashed extension host reports 0); 6 when the
// extension host logged unhandled promise rejections. Always ends with one line
// "integration: N passed, N failed" for scripts/test-all.sh.
// Usage: node scripts/run-vscode-tests.js [--out DIR] [--timeout MS] [--workspace DIR]
//   [--extensionDevelopmentPath DIR] [--extensionTestsPath FILE] [--env JSON] [--theme NAME]
// with VSCODE_TEST_NODE and VSCODE_TEST_CODE_SERVER set (scripts/setup-vscode-test-env.sh prints them).
// Recipe and the reasons behind each flag: shared/research/vscode-testing.md.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const util = require('util');
const { chromium } = require('playwright-core');

const root = path.resolve(__dirname, '..');
const args = parseArgs(process.argv.slice(2));
const out = path.resolve(root, args.out || '.vscode-test/out');
const timeoutMs = Number(args.timeout || 300000);
const nodeBin = process.env.VSCODE_TEST_NODE;
const codeServer = process.env.VSCODE_TEST_CODE_SERVER;
if (!nodeBin || !codeServer) fail(2, 'set VSCODE_TEST_NODE and VSCODE_TEST_CODE_SERVER (scripts/setup-vscode-test-env.sh prints them)');
const workspace = path.resolve(root, args.workspace || 'test/fixtures/workspace');
const testsPath = path.resolve(root, args.extensionTestsPath || 'out/test/integration/index.js');
const extDir = path.resolve(root, args.extensionDevelopmentPath || '.');
// harmless offline messages (gallery, auth, vsda, iframe sandbox warnings) that would bury the test output
const OFFLINE_NOISE = /Failed to load resource|open-vsx|vsda|authentication provider|allow-scripts and allow-same-origin/;
const chromiumPath = fs.existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium';

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i];
  return o;
}
// code-server runs in its own process group (detached) so that the whole tree, extension host
// included, can be stopped; whatever ends the driver must stop it too.
let stopServer = () => {};
process.on('SIGINT', () => fail(130, 'interrupted'));
process.on('SIGTERM', () => fail(143, 'terminated'));
function fail(code, msg) {
  stopServer();
  console.error(`[driver] ${msg}`);
  console.log('integration: 0 passed, 1 failed');
  process.exit(code);
}
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function main() {
  fs.rmSync(out, { recursive: true, force: true });
  const { dirs, shots, config } = prepareSandbox();
  const run = { page: undefined, report: undefined }; // filled in as the run goes; read by the control server
  const control = await startControlServer(run, shots);
  const { server, port } = await startCodeServer(dirs, config, control.port);
  const t0 = Date.now();
  await waitUntilUp(server, port, t0);
  const browser = await chromium.launch({
    executablePath: chromiumPath, headless: true,
    env: { ...process.env, HOME: dirs.home, XDG_CONFIG_HOME: dirs.config, XDG_CACHE_HOME: dirs.cache, TMPDIR: dirs.tmp },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = (run.page = await browser.newPage({ viewport: { width: 1400, height: 900 } }));
  const printed = forwardConsole(page);
  const exitCode = awaitAutomationExit(page);
  const authority = `127.0.0.1:${port}`;
  const payload = [['extensionDevelopmentPath', `vscode-remote://${authority}${extDir}`], ['extensionTestsPath', `vscode-remote://${authority}${testsPath}`]];
  await page.goto(`http://${authority}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);

  const timer = new Promise((r) => setTimeout(() => r('timeout'), timeoutMs));
  const died = new Promise((r) => server.on('exit', () => r('server-exit')));
  const result = await Promise.race([exitCode.promise, timer, died]);
  await printed.done();
  await page.screenshot({ path: path.join(shots, 'final.png') }).catch(() => {});
  await browser.close();
  stopServer();
  control.server.close();

  const code = exitCodeOf(result, run.report, dirs);
  const passes = run.report ? run.report.passes : 0;
  const failures = run.report ? run.report.failures : 0;
  // a crash, timeout or rejection with no failing test still counts as one failure
  console.log(`integration: ${passes} passed, ${code === 0 ? 0 : Math.max(1, failures)} failed`);
  console.log(`[driver] finished with code ${code} after ${Date.now() - t0} ms`);
  process.exit(code);
}

/** A fresh sandbox under `out` (home, config, user data with our settings, …) and an empty screenshots folder. */
function prepareSandbox() {
  const sandbox = path.join(out, 'sandbox');
  const dirs = Object.fromEntries(['home', 'config', 'data', 'cache', 'user-data', 'extensions', 'tmp'].map((d) => [d, path.join(sandbox, d)]));
  Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true }));
  const shots = path.join(path.dirname(out), 'screenshots');
  fs.rmSync(shots, { recursive: true, force: true }); // only this run's pictures
  fs.mkdirSync(shots, { recursive: true });
  fs.mkdirSync(path.join(dirs['user-data'], 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs['user-data'], 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'extensions.autoUpdate': false,
    'security.workspace.trust.enabled': false, 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.colorTheme': args.theme || 'Default Dark Modern', 'window.commandCenter': false,
  }, null, 1));
  const config = path.join(sandbox, 'config.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  return { dirs, shots, config };
}

/** The server the tests inside VS Code call: GET /screenshot?name=…, POST /result with mocha's counts. */
async function startControlServer(run, shots) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    try {
      if (req.method === 'GET' && url.pathname === '/screenshot') {
        const name = (url.searchParams.get('name') || 'shot').replace(/[^\w.-]/g, '_');
        const file = path.join(shots, `${name}.png`);
        if (run.page) await run.page.screenshot({ path: file });
        console.log(`[driver] screenshot ${path.relative(root, file)}`);
        res.end('ok');
      } else if (req.method === 'POST' && url.pathname === '/result') {
        let body = '';
        for await (const chunk of req) body += chunk;
        run.report = JSON.parse(body);
        console.log(`[driver] test runner reported ${body}`);
        res.end('ok');
      } else {
        res.statusCode = 404;
        res.end();
      }
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { server, port };
}

/** code-server on a free port, in its own process group (stopServer ends the whole tree). */
async function startCodeServer(dirs, config, controlPort) {
  const env = {
    ...process.env, HOME: dirs.home, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.data, XDG_CACHE_HOME: dirs.cache, TMPDIR: dirs.tmp,
    VSCODE_TEST_DRIVER_PORT: String(controlPort), ...(args.env ? JSON.parse(args.env) : {}),
  };
  const port = await freePort();
  const server = spawn(nodeBin, [path.join(codeServer, 'out/node/entry.js'),
    '--config', config, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', dirs['user-data'], '--extensions-dir', dirs.extensions,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--disable-proxy', '--ignore-last-opened', '--vscode-option', 'enable-smoke-test-driver', workspace],
  { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const serverLog = fs.createWriteStream(path.join(out, 'code-server.log'));
  server.stdout.pipe(serverLog);
  server.stderr.pipe(serverLog);
  server.exited = false;
  server.on('exit', () => (server.exited = true));
  stopServer = () => {
    try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
  };
  return { server, port };
}

/** Polls /healthz until code-server answers (fails after 60 s or when it exits). */
async function waitUntilUp(server, port, t0) {
  for (;;) {
    if (server.exited) fail(2, 'code-server exited during start; see ' + path.join(out, 'code-server.log'));
    if (Date.now() - t0 > 60000) fail(2, 'code-server did not come up in 60 s');
    const ok = await new Promise((r) => http.get(`http://127.0.0.1:${port}/healthz`, (res) => { res.resume(); r(res.statusCode === 200); }).on('error', () => r(false)));
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`[driver] code-server up at 127.0.0.1:${port} after ${Date.now() - t0} ms`);
}

/**
 * The remote extension host's console (mocha's spec reporter included) arrives here as
 * ['%c INFO', 'color: …', format, ...args]: drop the CSS pair and printf the rest. Chained so
 * that lines keep their order although reading the arguments is asynchronous.
 */
function forwardConsole(page) {
  let printed = Promise.resolve();
  page.on('console', (msg) => {
    const values = Promise.all(msg.args().map((h) => h.jsonValue().catch(() => String(h))));
    printed = printed.then(async () => {
      let v = await values.catch(() => []);
      if (typeof v[0] === 'string' && v[0].startsWith('%c')) v = v.slice(2);
      const line = v.length ? util.format(...v) : msg.text();
      if (!OFFLINE_NOISE.test(line)) console.log(`[browser:${msg.type()}] ${line}`);
    });
  });
  return { done: () => printed };
}

/** The workbench's exit code (the smoke-test driver's codeAutomationExit), its log files saved under out/vscode-logs. */
function awaitAutomationExit(page) {
  const promise = new Promise((resolve) => {
    page.exposeFunction('codeAutomationExit', (code, logFiles) => {
      const dir = path.join(out, 'vscode-logs');
      for (const f of logFiles || []) {
        const p = path.join(dir, String(f.relativePath).replace(/\.\./g, '_'));
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, f.contents);
      }
      console.log(`[driver] codeAutomationExit called with ${code}`);
      resolve(code);
    });
  });
  return { promise };
}

/** The driver's exit code (see the top of this file) from how the run ended and what the runner reported. */
function exitCodeOf(result, report, dirs) {
  let code;
  if (result === 'timeout') code = 2;
  else if (result === 'server-exit') code = 2;
  else if (!Number.isInteger(result)) code = 4;
  else if (result === 0 && !(report && report.failures === 0 && report.passes > 0)) {
    console.error('[driver] the workbench reported 0 but the test runner did not report a clean, non-empty run (extension host crash?)');
    const exits = fs.readFileSync(path.join(out, 'code-server.log'), 'utf8').split('\n').filter((l) => /Extension Host Process exited/.test(l));
    exits.forEach((l) => console.error(`[driver] ${l.trim()}`));
    code = 5;
  } else code = result;
  const rejections = unhandledRejections([path.join(out, 'vscode-logs'), path.join(dirs['user-data'], 'logs')]);
  if (code === 0 && rejections.length) {
    console.error(`[driver] unhandled promise rejections in the extension host:\n${rejections.join('\n')}`);
    code = 6;
  }
  return code;
}

// The extension host reports an unhandled rejection as "rejected promise not handled within 1
// second" (console.warn, which reaches window.log through the workbench) and logs the error to its
// own exthost log; other hosts write "Unhandled …". Both kinds of file are scanned: the ones
// codeAutomationExit hands over (window.log, the web worker host) and the remote host's logs,
// which stay in the server's user-data dir.
function unhandledRejections(dirs) {
  const found = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const f of fs.readdirSync(d)) {
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (/exthost|window\.log$/i.test(p)) {
        const re = /exthost/i.test(p) ? /unhandled|rejected promise not handled/i : /rejected promise not handled/i;
        for (const line of fs.readFileSync(p, 'utf8').split('\n')) if (re.test(line)) found.push(`${path.basename(p)}: ${line.slice(0, 300)}`);
      }
    }
  };
  dirs.forEach(walk);
  return found;
}

main().catch((e) => fail(3, e && e.stack ? e.stack : String(e)));
