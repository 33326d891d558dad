/** Names shared by the global setup, the e2e worker (e2e/worker_flows.py) and the specs. */
export const E2E_TOKEN = "e2e-token";
export const EXAMPLE_CLIENT = "perfect_example";
export const E2E_CLIENT = "e2e_flows";

export const EXAMPLE_FLOWS = ["Daily Sales ETL", "Churn Model Retraining", "Infrastructure Health Check", "Weekly Executive Report"];

export const SCRIPT = "<script>alert(1)</script>";
export const IMG = "<img src=x onerror=alert(1)>";
export const QUICK_FLOW = "E2E Quick Flow";
export const LONG_FLOW = "E2E Long Flow";
export const DRIFT_FLOW = "E2E Drift Flow";
export const CHATTY_FLOW = "E2E Chatty Flow";
export const HOSTILE_FLOW = `Hostile ${SCRIPT} flow ${IMG}`;
export const SUBFLOW_PARENT = "E2E Subflow Parent";
export const SUBFLOW_CHILD = "E2E Subflow Child";
export const WAREHOUSE_FLOW = "E2E Warehouse Flow";
export const E2E_FLOWS = [QUICK_FLOW, LONG_FLOW, DRIFT_FLOW, CHATTY_FLOW, HOSTILE_FLOW, SUBFLOW_PARENT, WAREHOUSE_FLOW];
