// Runs the HostedBalancer example over two echo backends, opens its stats page in headless Chromium,
// sends traffic through the balancer, and checks that the numbers on the page change by themselves
// (pushed over server-sent events, no reload) and that its charts draw the rates; then clicks drain on a
// backend, sees it draining, sets its weight, enables it again, and sees each change on the page and in
// /admin/backends. Saves a screenshot. Exits 0 when every check holds.
//
//   node check.mjs <HostedBalancer.dll> <screenshot.png>
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";

const [dll, screenshot] = process.argv.slice(2);
if (!dll || !screenshot) {
  console.error("usage: node check.mjs <HostedBalancer.dll> <screenshot.png>");
  process.exit(2);
}

const deadline = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());
const within = (promise, ms, what) => Promise.race([promise, deadline(ms, what)]);

// Two echo backends on loopback ports the system picks.
function echoServer() {
  const server = createServer(socket => { socket.on("error", () => {}); socket.pipe(socket); });
  return new Promise(resolve => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// The balancer: an empty content root (no appsettings.json), so only these settings apply.
function startBalancer(backends) {
  const contentRoot = mkdtempSync(join(tmpdir(), "stats-check-"));
  const child = spawn("dotnet", [
    dll,
    "--contentRoot", contentRoot,
    "--Stats:Url=http://127.0.0.1:0",
    "--LoadBalancer:Listen:0=127.0.0.1:0",
    ...backends.map((b, i) => `--LoadBalancer:Backends:${i}=127.0.0.1:${b.address().port}`),
    "--LoadBalancer:Strategy=round-robin",
    "--LoadBalancer:HealthCheck:Interval=1s",
  ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DOTNET_NOLOGO: "1", Logging__Console__FormatterName: "simple" } });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    const look = chunk => {
      output += chunk;
      const balancer = /Balancer listening on 127\.0\.0\.1:(\d+)/.exec(output);
      const stats = /Now listening on: (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (balancer && stats) resolve({ port: Number(balancer[1]), url: stats[1] });
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.on("exit", code => reject(new Error(`HostedBalancer exited with ${code}:\n${output}`)));
  });
  const stop = () => { child.kill("SIGTERM"); rmSync(contentRoot, { recursive: true, force: true }); };
  return { ready, stop, output: () => output };
}

// One connection through the balancer: sends `size` bytes, closes its side, reads the echo to the end.
function roundTrip(port, size) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = 0;
    socket.on("connect", () => socket.end(Buffer.alloc(size, 0x61)));
    socket.on("data", data => { received += data.length; });
    socket.on("end", () => received === size ? resolve() : reject(new Error(`echoed ${received} of ${size} bytes`)));
    socket.on("error", reject);
  });
}

// A connection left open, so the page shows active connections.
function hold(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

const valueOf = (page, selector) => page.$eval(selector, element => Number(element.dataset.value));

const backends = [await echoServer(), await echoServer()];
const balancer = startBalancer(backends);
let browser;
let failed = false;
try {
  const { port, url } = await within(balancer.ready, 60_000, "HostedBalancer to start");
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 720 } });
  const errors = [];
  page.on("pageerror", error => errors.push(error.message));
  await page.goto(url + "/", { timeout: 30_000 });
  await page.waitForFunction(() => document.getElementById("connection").textContent === "live"
    && document.querySelectorAll("#backends tr").length === 2, null, { timeout: 30_000 });
  const before = {
    accepted: await valueOf(page, "#accepted"),
    bytesIn: await valueOf(page, '#totals [data-field="bytesIn"]'),
  };

  // Traffic, without reloading the page: 300 connections of 1 KiB each, three held open.
  const held = await Promise.all([hold(port), hold(port), hold(port)]);
  for (let batch = 0; batch < 30; batch++) {
    await within(Promise.all(Array.from({ length: 10 }, () => roundTrip(port, 1024))), 30_000, "traffic through the balancer");
  }

  await page.waitForFunction(() => Number(document.getElementById("accepted").dataset.value) >= 303
    && Number(document.getElementById("active").dataset.value) === 3, null, { timeout: 30_000 });
  const after = {
    accepted: await valueOf(page, "#accepted"),
    bytesIn: await valueOf(page, '#totals [data-field="bytesIn"]'),
    rows: await page.$$eval("#backends tr", rows => rows.map(row => ({
      backend: row.dataset.backend,
      status: row.querySelector('[data-field="status"]').textContent,
      total: Number(row.querySelector('[data-field="total"]').dataset.value),
    }))),
  };

  // The charts: uPlot's canvases, with rates computed from the counters the page was pushed.
  await page.waitForFunction(() => ["chart-connections", "chart-throughput"].every(id => {
    const chart = document.getElementById(id);
    return chart.querySelector("canvas") && Number(chart.dataset.points) >= 2 && Number(chart.dataset.max) > 0;
  }), null, { timeout: 30_000 });
  const charts = await page.$$eval(".chart > div[id]", elements => elements.map(element => ({
    id: element.id, points: Number(element.dataset.points), max: Number(element.dataset.max),
    labels: [...element.querySelectorAll(".u-legend .u-label")].map(label => label.textContent),
  })));

  // The operator's buttons, through /admin: drain the first backend, set its weight, enable it again.
  const first = `#backends tr[data-backend="${after.rows[0].backend}"]`;
  const statusOf = async () => page.$eval(`${first} [data-field="status"]`, cell => cell.textContent);
  await page.click(`${first} button[data-action="drain"]`);
  await page.waitForFunction(row => document.querySelector(`${row} [data-field="status"]`).textContent === "DRAIN"
    && document.getElementById("message").textContent !== "", first, { timeout: 30_000 });
  const drained = { status: await statusOf(), message: await page.$eval("#message", element => element.textContent) };
  const drainedApi = await (await fetch(url + "/admin/backends")).json();

  await page.fill(`${first} input[data-field="newWeight"]`, "3");
  await page.click(`${first} button[data-action="weight"]`);
  await page.waitForFunction(row => document.querySelector(`${row} [data-field="weight"]`).dataset.value === "3", first, { timeout: 30_000 });

  await page.click(`${first} button[data-action="enable"]`);
  await page.waitForFunction(row => document.querySelector(`${row} [data-field="status"]`).textContent === "UP", first, { timeout: 30_000 });
  const enabledApi = await (await fetch(url + "/admin/backends")).json();
  const refused = await fetch(url + `/admin/backends/${after.rows[0].backend}/drain`, { method: "POST", body: "x=1",
    headers: { "Content-Type": "application/x-www-form-urlencoded" } });

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  held.forEach(socket => socket.destroy());

  const metrics = await (await fetch(url + "/metrics")).text();
  const checks = [
    [after.accepted >= before.accepted + 303, `accepted went from ${before.accepted} to ${after.accepted}`],
    [after.bytesIn >= before.bytesIn + 300 * 1024, `bytes in went from ${before.bytesIn} to ${after.bytesIn}`],
    [after.rows.every(row => row.status === "UP" && row.total >= 150), `rows: ${JSON.stringify(after.rows)}`],
    [/loadbalancer_connections_accepted_total\{[^}]*\} 30\d/.test(metrics), "/metrics counts the accepted connections"],
    [charts.length === 2 && charts.every(chart => chart.points >= 2 && chart.max > 0 && after.rows.every(row => chart.labels.includes(row.backend))),
      `charts drawn with data, a series per backend: ${JSON.stringify(charts)}`],
    [drained.status === "DRAIN" && drained.message === `ok: ${after.rows[0].backend} draining`, `drain clicked: ${JSON.stringify(drained)}`],
    [drainedApi.backends[0].state === "draining", `/admin/backends says draining: ${drainedApi.backends[0].state}`],
    [enabledApi.backends[0].state === "up" && enabledApi.backends[0].weight === 3, `weight set and enabled: ${JSON.stringify(enabledApi.backends[0])}`],
    [refused.status === 415, `a form POST to /admin is refused (${refused.status})`],
    [errors.length === 0, `no script errors on the page${errors.length ? ": " + errors.join("; ") : ""}`],
  ];
  for (const [ok, what] of checks) {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    failed ||= !ok;
  }
  console.log(`screenshot: ${screenshot}`);
} catch (error) {
  failed = true;
  console.error(`FAIL ${error.message}`);
  console.error(balancer.output());
} finally {
  await browser?.close();
  balancer.stop();
  backends.forEach(server => server.close());
}
process.exit(failed ? 1 : 0);
