/** The demo's GraphQL calls, as a front-end makes them: a refusal or a userError stops the demo, naming `what` was being shown. */

interface Answer {
  data?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the demo reads what came back
  errors?: { message: string }[];
}

/** Calls the API at `origin` with a bearer token; `payload` names a mutation whose userErrors count as failure, and is what it answers. */
export type ApiCall = (bearer: string, query: string, variables?: Record<string, unknown>, payload?: string) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function apiCaller(origin: string, what: string): ApiCall {
  return async (bearer, query, variables = {}, payload) => {
    const response = await fetch(`${origin}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ query, variables }),
    });
    const answer = (await response.json()) as Answer;
    const errors = answer.errors ?? (payload ? answer.data?.[payload]?.userErrors : []) ?? [];
    if (errors.length) throw new Error(`${what} failed: ${JSON.stringify(errors)}`);
    return payload ? answer.data[payload] : answer.data;
  };
}
