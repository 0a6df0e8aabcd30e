import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

/**
 * A minimal typed client for the hub, as a front-end team might write one on `fetch`: the result
 * and variables types come from the generated documents. With `trusted: true` it sends only the
 * operation's hash (`documentId`), which is all a production gateway accepts.
 */
export interface HubClientOptions {
  /** The gateway's `/graphql` URL. */
  url: string;
  /** A bearer token (`hub token --role …` in development). */
  token: string;
  trusted?: boolean;
}

export class HubError extends Error {
  constructor(readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

type Meta = { __meta__?: { hash?: string } };

export function hubClient({ url, token, trusted = false }: HubClientOptions) {
  return async function request<Result, Variables>(document: TypedDocumentNode<Result, Variables>, variables: Variables): Promise<Result> {
    const hash = (document as Meta).__meta__?.hash;
    if (trusted && !hash) throw new Error('the document has no hash: run npm run codegen');
    const operation = trusted ? { documentId: hash } : { query: print(document) };
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ ...operation, variables }),
    });
    const body = (await response.json()) as { data?: Result; errors?: { message: string; extensions?: { code?: string; field?: string } }[] };
    const error = body.errors?.[0];
    if (error) throw new HubError(error.extensions?.code ?? 'UNKNOWN', error.message, error.extensions?.field);
    return body.data!;
  };
}

