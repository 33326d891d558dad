import { parseWith, workerRoute } from "@/lib/api/route";
import { variableBodySchema } from "@/lib/contracts/artifacts";

export const dynamic = "force-dynamic";

// Prefect's Variable.get / Variable.set from inside a flow (the client's token is enough).
export const GET = workerRoute(({ engine, params }) => engine.getVariable(params.name));
export const PUT = workerRoute(async ({ engine, params, body }) => engine.setVariable(params.name, parseWith(variableBodySchema, await body()).value));
