/**
 * A run's artifacts in the run view: a flow run directly (`python etl.py` with PERFECT_URL set,
 * so a real direct run of the SDK) publishes markdown, a table, links and a progress bar full of
 * HTML payloads; the view shows them as text (the fixture fails the test if any dialog opened),
 * links only http(s) ones, and the keyed progress bar at its last value.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { E2E_CLIENT, E2E_TOKEN, IMG, SCRIPT } from "./support/constants";
import { expect, test } from "./fixtures";

const SDK = path.resolve(__dirname, "..", "sdk-python");

const script = (payload: string) => `
import sys
sys.path.insert(0, ${JSON.stringify(SDK)})
from perfect_client import flow, task
from perfect_client.artifacts import (create_link_artifact, create_markdown_artifact,
    create_progress_artifact, create_table_artifact)

PAYLOAD = ${JSON.stringify(payload)}

@task
def publish():
    create_markdown_artifact("# Report " + PAYLOAD + "\\n\\n**bold** and [evil](javascript:alert(1))", key="report")
    create_table_artifact([{"name": PAYLOAD, "rows": 3}], key="table")
    create_link_artifact("https://example.com/report", link_text=PAYLOAD, key="link")
    create_progress_artifact(30, key="progress")
    create_progress_artifact(80, key="progress")

@flow(name="E2E Artifacts")
def artifacts():
    publish()

if __name__ == "__main__":
    artifacts()
`;

test("the run view shows a run's artifacts, HTML in them as text", async ({ api, runPage, page, baseURL }) => {
  execFileSync("python3", ["-c", script(`${SCRIPT}${IMG}`)], {
    env: { ...process.env, PERFECT_URL: baseURL!, PERFECT_CLIENT_ID: E2E_CLIENT, PERFECT_TOKEN: E2E_TOKEN },
    timeout: 60_000,
  });
  const runs = (await (await page.request.get("/api/runs?flow=E2E%20Artifacts")).json()).runs as { id: string; trigger: string; state: string }[];
  expect(runs.map((r) => [r.trigger, r.state])).toEqual([["local", "COMPLETED"]]);
  await runPage.goto(runs[0].id);
  const panel = page.getByTestId("artifacts-panel");
  await expect(panel).toBeVisible();
  const markdown = panel.getByTestId("artifact-markdown");
  await expect(markdown).toContainText(`Report ${SCRIPT}${IMG}`);
  await expect(markdown.locator("strong")).toHaveText("bold");
  await expect(markdown.locator("a")).toHaveCount(0); // the javascript: link is text
  await expect(panel.locator("script, img")).toHaveCount(0);
  await expect(panel.getByTestId("artifact-table")).toContainText(`${SCRIPT}${IMG}`);
  const link = panel.getByTestId("artifact-link").locator("a");
  await expect(link).toHaveText(`${SCRIPT}${IMG}`);
  await expect(link).toHaveAttribute("href", "https://example.com/report");
  await expect(panel.getByTestId("artifact-progress")).toHaveCount(1);
  await expect(panel.getByTestId("artifact-progress")).toHaveAttribute("aria-valuenow", "80");
  const stored = await api.run(runs[0].id);
  expect(stored.trigger).toBe("local");
});
