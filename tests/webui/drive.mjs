// Drives `loopc serve --ui` in Debian's headless Chromium, as a person
// would: log in with the token, find the waiting run in "Needs a person",
// read its diagram, reject it with a note using the keyboard only, and
// watch a run's live progress. Prints one JSON object of what it saw.
//
// node drive.mjs '{"phase": "review"|"live", "url": …, "token": …, "run": …, "shots": DIR}'
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.argv[2]);
const seen = {};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function login(context) {
  const page = await context.newPage();
  const first = await page.goto(cfg.url + "/");
  seen.unauthenticated_status = first.status();
  await page.fill("#token", cfg.token);
  await Promise.all([page.waitForURL(cfg.url + "/"), page.click("button[type=submit]")]);
  return page;
}

async function shoot(page, path, name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(cfg.url + path);
    if (path.startsWith("/runs/")) {
      await page.waitForSelector('.diagram[data-rendered="true"] svg', { timeout: 20000 });
    }
    const file = `${cfg.shots}/${name}-${scheme}.png`;
    await page.screenshot({ path: file, fullPage: true });
    (seen.shots ||= []).push(file);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await login(context);
  seen.runs_heading = await page.textContent("h1");

  if (cfg.phase === "review") {
    // Without JavaScript the pages and their forms are all there.
    const plain = await browser.newContext({ javaScriptEnabled: false });
    await plain.addCookies((await context.cookies()).map((c) => ({ ...c })));
    const noJs = await plain.newPage();
    await noJs.goto(cfg.url + "/queue");
    seen.queue_without_js_has_form = (await noJs.locator(`form[action="/runs/${cfg.run}/decision"] button`).count()) === 2;
    await plain.close();

    await page.goto(cfg.url + "/queue");
    const form = page.locator(`form[action="/runs/${cfg.run}/decision"]`);
    seen.queue_lists_run = (await form.count()) === 1 && (await form.textContent()).includes(cfg.run);

    await page.goto(cfg.url + `/runs/${cfg.run}`);
    await page.waitForSelector('.diagram[data-rendered="true"] svg', { timeout: 20000 });
    seen.diagram_nodes = await page.locator(".diagram svg g.node").count();
    seen.trace_link = await page.locator(`a[href="/runs/${cfg.run}/trace.json"]`).count();

    await shoot(page, "/", "runs");
    await shoot(page, "/queue", "queue");
    await shoot(page, `/runs/${cfg.run}`, "run");
    if (cfg.pool) await shoot(page, `/pools/${cfg.pool}`, "pool");

    // Keyboard only: the note, then Tab to "Approve", Tab to "Reject", Enter.
    await page.goto(cfg.url + "/queue");
    await page.focus(`form[action="/runs/${cfg.run}/decision"] textarea`);
    await page.keyboard.type(cfg.note);
    await page.keyboard.press("Tab");
    seen.first_button = await page.evaluate(() => document.activeElement.textContent);
    await page.keyboard.press("Tab");
    seen.second_button = await page.evaluate(() => document.activeElement.textContent);
    await Promise.all([page.waitForURL(/decided=reject/), page.keyboard.press("Enter")]);
    seen.notice = await page.textContent(".notice");
    const deadline = Date.now() + 30000;
    for (;;) {
      seen.final_status = (await page.textContent("#status")).trim();
      if (seen.final_status === "rejected" || Date.now() > deadline) break;
      await page.waitForTimeout(300);
      await page.reload();
    }
    seen.final_reason = await page.textContent("table.facts tr:first-child td");
    await shoot(page, `/runs/${cfg.run}`, "run-rejected");
  } else {
    await page.goto(cfg.url + `/runs/${cfg.run}`);
    const live = page.locator("#live li");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#live li")].some((li) => li.textContent.includes("the run stopped executing")),
      null,
      { timeout: 60000 },
    );
    seen.live = await live.allTextContents();
    await page.screenshot({ path: `${cfg.shots}/live-light.png`, fullPage: true });
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
