"""The four example flows of Perfect, served to a local server.

    python3 sdk-python/examples/example_flows.py               # serve until Ctrl-C
    python3 sdk-python/examples/example_flows.py --exit-when-done

Configuration comes from PERFECT_URL (http://localhost:3000), PERFECT_CLIENT_ID
(perfect_example) and PERFECT_TOKEN (dev-token). PERFECT_EXAMPLE_SPEED scales every task's
duration (0.1 = ten times faster), which the tests use.
"""
import argparse
import os
import random
import sys
import time

try:
    import perfect_client  # noqa: F401  (installed with pip)
except ImportError:  # run from a checkout: use the SDK next to this file
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfect_client import cron, flow, get_logger, progress, serve, task

log = get_logger()


def _speed():
    try:
        return max(0.0, float(os.environ.get("PERFECT_EXAMPLE_SPEED", "1")))
    except ValueError:
        return 1.0


def work(seconds, steps=10):
    """Simulate ``seconds`` of work in ``steps`` slices, reporting progress after each."""
    pause = seconds * _speed() / steps
    for step in range(steps):
        time.sleep(pause)
        progress((step + 1) / steps)


# -- Daily Sales ETL ------------------------------------------------------------------------------

@task(estimated_time=3000, retries=2, retry_delay=1.0)
def extract_sales(day, region):
    """Pull the day's orders from the sales database."""
    log.info("extracting orders for %s (region=%s)", day, region)
    work(3.0)
    rows = [{"order": i, "amount": round(random.uniform(5, 500), 2)} for i in range(1200)]
    log.info("extracted %d rows", len(rows))
    return rows


@task(estimated_time=2000)
def transform_sales(rows, limit):
    """Drop refunds and keep the largest orders."""
    print("transforming %d rows" % len(rows))
    work(2.0)
    kept = sorted((r for r in rows if r["amount"] > 10), key=lambda r: -r["amount"])[:limit]
    print("kept %d rows after cleaning" % len(kept))
    return kept


@task(estimated_time=1500)
def load_sales(rows):
    """Write the cleaned rows to the warehouse."""
    work(1.5)
    log.info("loaded %d rows into warehouse.sales_daily", len(rows))
    return len(rows)


@flow(name="Daily Sales ETL",
      description="Extract, transform and load yesterday's sales into the warehouse",
      tags={"version": "v1.2", "team": "data-eng", "priority": "high"},
      schedules=[cron("0 6 * * *", timezone="Europe/Berlin")])  # every day at 06:00 Berlin time
def daily_sales_etl(day: str = "yesterday", region: str = "all", limit: int = 1000):
    load_sales(transform_sales(extract_sales(day, region), limit))


# -- Churn Model Retraining -----------------------------------------------------------------------

@task(estimated_time=2500)
def fetch_features(lookback_days):
    """Build the customer feature table from the event store."""
    log.info("fetching %d days of customer activity", lookback_days)
    work(2.5)
    return {"customers": 48210, "features": 37}


@task(estimated_time=4000)
def train_model(features, learning_rate):
    """Train the gradient-boosted churn classifier."""
    log.info("training on %d customers, %d features, lr=%s",
             features["customers"], features["features"], learning_rate)
    for epoch in range(1, 5):
        work(1.0, steps=5)
        print("epoch %d/4 loss=%.3f" % (epoch, 0.62 / epoch))
    return {"model": "churn-gbm", "learning_rate": learning_rate}


@task(estimated_time=1500)
def evaluate_model(model):
    """Score the model on the hold-out set."""
    work(1.5)
    auc = round(random.uniform(0.78, 0.86), 3)
    log.info("hold-out AUC %.3f", auc)
    return auc


@task(estimated_time=1000)
def publish_model(model, auc):
    """Promote the model to the serving registry."""
    work(1.0)
    log.info("published %s (AUC %.3f) to the model registry", model["model"], auc)


@flow(name="Churn Model Retraining",
      description="Retrain the churn classifier on fresh data and publish it if it is good enough",
      tags={"version": "v3.0", "team": "ml-platform", "priority": "medium"})
def churn_model_retraining(lookback_days: int = 90, learning_rate: float = 0.05, min_auc: float = 0.75):
    model = train_model(fetch_features(lookback_days), learning_rate)
    auc = evaluate_model(model)
    if auc >= min_auc:
        publish_model(model, auc)
    else:
        log.warning("AUC %.3f below %.3f: keeping the current model", auc, min_auc)


# -- Infrastructure Health Check ------------------------------------------------------------------

@task(estimated_time=1200)
def check_api_latency(environment):
    """Probe the public API and measure p95 latency."""
    work(1.2)
    latency = random.randint(80, 140)
    log.info("%s API p95 latency %d ms", environment, latency)
    return latency < 250


@task(estimated_time=1500)
def check_database(environment):
    """Check replication lag and connection headroom."""
    work(1.5)
    log.info("%s database replication lag 0.4 s, 63%% connections used", environment)
    return True


@task(estimated_time=1000)
def check_disk_usage(environment):
    """Check free disk space on every node."""
    work(1.0)
    usage = random.randint(40, 85)
    if usage > 80:
        log.warning("%s disk usage at %d%%", environment, usage)
    return usage < 95


_certificate_attempts = {}


@task(estimated_time=800, retries=2, retry_delay=0.5)
def check_certificates(environment):
    """Verify TLS certificates expire in more than 14 days (the CA endpoint is flaky)."""
    attempt = _certificate_attempts[environment] = _certificate_attempts.get(environment, 0) + 1
    work(0.8)
    if attempt == 1 and random.random() < 0.25:
        raise ConnectionError("certificate authority endpoint timed out")
    log.info("all %s certificates valid for 30+ days", environment)
    return True


@task(estimated_time=500)
def summarize_health(results):
    """Combine the checks into one status."""
    work(0.5, steps=2)
    healthy = all(results)
    print("overall status: %s" % ("HEALTHY" if healthy else "DEGRADED"))
    return healthy


@flow(name="Infrastructure Health Check",
      description="Check API, database, disks and certificates of an environment",
      tags={"version": "v2.1", "team": "sre", "priority": "critical"})
def infrastructure_health_check(environment: str = "production"):
    _certificate_attempts.pop(environment, None)
    results = [
        check_api_latency(environment),
        check_database(environment),
        check_disk_usage(environment),
        check_certificates(environment),
    ]
    summarize_health(results)


# -- Weekly Executive Report ----------------------------------------------------------------------

@task(estimated_time=2000)
def gather_kpis(week):
    """Query revenue, churn and NPS for the week."""
    log.info("gathering KPIs for week %s", week)
    work(2.0)
    return {"revenue": 1284000, "churn": 0.021, "nps": 47}


@task(estimated_time=2500)
def build_charts(kpis):
    """Render the KPI charts."""
    work(2.5)
    log.info("rendered %d charts", len(kpis) * 2)
    return ["revenue.png", "churn.png", "nps.png"]


@task(estimated_time=3000)
def render_pdf(kpis, charts, page_format):
    """Lay out the report as a PDF."""
    work(3.0)
    print("rendered report.pdf (%s, %d charts, 12 pages)" % (page_format, len(charts)))
    return "report.pdf"


@task(estimated_time=1000, retries=1, retry_delay=2.0)
def email_report(document, recipients):
    """Email the report to the leadership list."""
    work(1.0)
    log.info("emailed %s to %s", document, ", ".join(recipients))


@flow(name="Weekly Executive Report",
      description="Gather the week's KPIs, render the executive PDF and email it",
      tags={"version": "v1.0", "team": "analytics", "priority": "low"},
      schedules=[cron("0 8 * * 1", timezone="Europe/Berlin")])  # Mondays at 08:00 Berlin time
def weekly_executive_report(week: str = "last", recipients: list = ("ceo@example.com", "cfo@example.com"),
                            page_format: str = "A4"):
    kpis = gather_kpis(week)
    document = render_pdf(kpis, build_charts(kpis), page_format)
    email_report(document, recipients)


ALL_FLOWS = [daily_sales_etl, churn_model_retraining, infrastructure_health_check, weekly_executive_report]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve Perfect's example flows.")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="exit once every flow has completed a run")
    parser.add_argument("--max-concurrent-runs", type=int, default=4)
    args = parser.parse_args(argv)
    serve(*ALL_FLOWS, max_concurrent_runs=args.max_concurrent_runs,
          exit_when_all_completed=args.exit_when_done)


if __name__ == "__main__":
    main()
