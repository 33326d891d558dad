/**
 * Which rules an event matches, and so which destinations get a delivery: pure code over the
 * rules in memory. A rule matches when every filter it has matches (flows: the run's flow name;
 * tags: every listed tag equal on the run; clients: the client id). An event without a flow
 * (worker.lost) is judged by its client only. One delivery per destination per occurrence: when
 * several rules send it to one destination, the first rule (in file order) decides its throttle.
 */
import type { AlertRule } from "./alerts-file";

export interface AlertSubject {
  flow: string | null;
  tags: Record<string, string> | null;
  clientId: string | null;
}

export interface AlertTarget {
  destinationId: string;
  rule: AlertRule;
}

export function ruleMatches(rule: AlertRule, s: AlertSubject): boolean {
  if (rule.clients && !(s.clientId !== null && rule.clients.includes(s.clientId))) return false;
  if (s.flow === null) return true;
  if (rule.flows && !rule.flows.includes(s.flow)) return false;
  if (rule.tags) {
    const tags = s.tags ?? {};
    for (const k of Object.keys(rule.tags)) {
      if (!Object.hasOwn(tags, k) || tags[k] !== rule.tags[k]) return false;
    }
  }
  return true;
}

export function matchTargets(rules: readonly AlertRule[], s: AlertSubject): AlertTarget[] {
  const out: AlertTarget[] = [];
  const seen = new Set<string>();
  for (const rule of rules) {
    if (!ruleMatches(rule, s)) continue;
    for (const destinationId of rule.to) {
      if (seen.has(destinationId)) continue;
      seen.add(destinationId);
      out.push({ destinationId, rule });
    }
  }
  return out;
}

/** The throttle bucket of a rule's sends to a destination: per flow (or per client without one). */
export function throttleKey(target: AlertTarget, s: AlertSubject): string | null {
  if (!target.rule.throttleSeconds) return null;
  return `rule${target.rule.index}:${target.destinationId}:${s.flow ?? `client:${s.clientId ?? ""}`}`;
}
