import AxeBuilder from "@axe-core/playwright";
import { QUICK_FLOW } from "./support/constants";
import { EVERY_PAGE, pagePath } from "./support/every-page.mjs";
import { PerfectApi } from "./support/perfect-api";
import { expect, test } from "./fixtures";

test.describe("keyboard and motion", () => {
  test("the trigger panel works from the keyboard, with a visible focus ring", async ({ flowsPage, page }) => {
    await flowsPage.goto();
    const button = flowsPage.card(QUICK_FLOW).getByTestId("trigger-button");
    await button.focus();
    expect(await button.evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe("none");
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("trigger-form")).toBeVisible();
    // Focus moved into the panel, onto the first parameter.
    await expect(page.getByTestId("param-label")).toBeFocused();
    await page.keyboard.press("Tab");
    await expect(page.getByTestId("param-limit")).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(page.getByTestId("trigger-form")).toHaveCount(0);
    // Focus returns to the button that opened it.
    await expect(button).toBeFocused();
  });

  test("animations stop under prefers-reduced-motion", async ({ flowsPage, page }) => {
    await flowsPage.goto();
    const dot = page.getByTestId("flow-client-online").first().locator(".badge-dot");
    const duration = () => dot.evaluate((el) => parseFloat(getComputedStyle(el).animationDuration));
    expect(await duration()).toBeGreaterThan(1);
    await page.emulateMedia({ reducedMotion: "reduce" });
    expect(await duration()).toBeLessThan(0.01);
  });
});

/**
 * axe (WCAG 2 A and AA rules) on every page of the dashboard, each with content: a finished
 * run's view, its flow's page, the history holding it. The page list is one table
 * (e2e/support/every-page.mjs): a new page is one more row there. Serious and critical
 * violations fail the test, with their rule, help and the offending elements in the message.
 */
const A11Y_KEY = "a11y-scan";

test.describe("axe on every page", () => {
  let ids: { run: string; flow: string };

  test.beforeAll(async ({ request }) => {
    const api = new PerfectApi(request);
    const [run] = await api.completedRuns(QUICK_FLOW, 1, { label: "a11y" });
    ids = { run: run.id, flow: (await api.flow(QUICK_FLOW)).id };
    // The concurrency page with a limit to show (removed again after the scans).
    expect((await request.put(`/api/concurrency-limits/${A11Y_KEY}`, { data: { limit: 2 } })).ok()).toBe(true);
  });

  test.afterAll(async ({ request }) => {
    await request.delete(`/api/concurrency-limits/${A11Y_KEY}`);
  });

  for (const p of EVERY_PAGE) {
    test(`${p.name} (${p.path}) has no serious or critical violations`, async ({ page }) => {
      await page.goto(pagePath(p, ids));
      await expect(page.locator(p.ready).first()).toBeVisible();
      // Live pages keep updating; let the first data settle before the scan.
      await page.waitForLoadState("networkidle").catch(() => undefined);
      const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
      const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      const described = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.slice(0, 5).map((n) => `    ${n.target.join(" ")} — ${n.failureSummary?.replace(/\n/g, " ")}`).join("\n")}`);
      expect(described, `axe on ${p.path}`).toEqual([]);
      // The scan looked at the page itself, not at a loading shell.
      expect(result.passes.length).toBeGreaterThan(0);
    });

    test(`${p.name} (${p.path}): every control is reached by Tab and shows a focus ring`, async ({ page }) => {
      await page.goto(pagePath(p, ids));
      await expect(page.locator(p.ready).first()).toBeVisible();
      await page.waitForLoadState("networkidle").catch(() => undefined);
      // Every enabled, visible control of the page, in document order (one per radio group).
      const controls = await page.evaluate(() => {
        const sel = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
        const out: string[] = [];
        let n = 0;
        for (const el of Array.from(document.querySelectorAll<HTMLElement>(sel))) {
          const r = el.getBoundingClientRect();
          if ((el as HTMLButtonElement).disabled || r.width === 0 || r.height === 0 || el.closest("[inert],[aria-hidden=true]")) continue;
          if (el instanceof HTMLInputElement && el.type === "radio" && !el.checked && el.name) continue;
          el.dataset.a11yControl = String(n++);
          out.push(`${el.tagName.toLowerCase()} "${(el.getAttribute("aria-label") ?? el.textContent ?? "").trim().slice(0, 40)}"`);
        }
        return out;
      });
      expect(controls.length, `controls on ${p.path}`).toBeGreaterThan(0);
      const reached = new Set<string>();
      const noRing: string[] = [];
      // Tab from the top of the page until focus wraps round (bounded: twice the controls).
      await page.locator("body").focus();
      for (let i = 0; i < controls.length * 2 + 5 && reached.size < controls.length; i++) {
        await page.keyboard.press("Tab");
        const f = await page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          if (!el || el === document.body) return null;
          const cs = getComputedStyle(el);
          const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0) || (cs.boxShadow !== "none" && cs.boxShadow !== "");
          return { id: el.dataset.a11yControl ?? null, ring, what: `${el.tagName.toLowerCase()} ${el.getAttribute("data-testid") ?? ""}` };
        });
        if (!f) continue;
        if (f.id !== null) reached.add(f.id);
        if (!f.ring) noRing.push(f.what);
      }
      const missed = controls.filter((_, i) => !reached.has(String(i)));
      expect(missed, `controls on ${p.path} that Tab never reaches`).toEqual([]);
      expect(noRing, `controls on ${p.path} focused without a visible focus ring`).toEqual([]);
    });
  }
});
