import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import type express from 'express';

/**
 * Trusted documents: the operations front-end teams registered, as the manifest codegen's client
 * preset writes (`{ "sha256:<hash of the document>": "<document>" }`, examples/generated/persisted-documents.json).
 * A client sends `documentId` (optionally `sha256:`-prefixed) or Apollo's
 * `extensions.persistedQuery.sha256Hash` instead of the text. In strict mode (production with a
 * manifest) nothing else runs: a full text runs only when it is a registered document itself.
 */
export interface TrustedDocuments {
  strict: boolean;
  /** The query to run for a request's fields, or an error when it may not run. */
  resolve(request: { query?: unknown; documentId?: unknown; extensions?: unknown }): string | GraphQLError | undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** `builtIn`: the hub's own pages' operations (the dashboard's), trusted wherever a manifest is. */
export function loadTrustedDocuments(path: string | undefined, strict: boolean, builtIn: Record<string, string> = {}): TrustedDocuments | null {
  if (!path) return null;
  const entries = Object.entries({ ...builtIn, ...(JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>) });
  const manifest = new Map(entries.map(([id, document]) => [id.replace(/^sha256:/, ''), document]));
  const refused = (message: string) =>
    new GraphQLError(message, { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } });
  return {
    strict,
    resolve({ query, documentId, extensions }) {
      const persisted = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
      const id = typeof documentId === 'string' ? documentId.replace(/^sha256:/, '') : typeof persisted === 'string' ? persisted : undefined;
      if (id !== undefined) return manifest.get(id) ?? refused(`no trusted document has the id ${id}`);
      if (!strict || typeof query !== 'string') return undefined;
      return manifest.has(sha256(query)) ? query : refused('only trusted documents run here: send the documentId of a registered operation');
    },
  };
}

/**
 * HTTP: replaces a document id by its text before Apollo reads the request (POST body or GET
 * parameters), and refuses what may not run. Apollo's own automatic persisted queries stay off,
 * so no client can register new documents.
 */
export function trustedDocumentsMiddleware(documents: TrustedDocuments): express.RequestHandler {
  return (req, res, next) => {
    const fromBody = req.method === 'POST';
    const fields = fromBody ? (req.body ?? {}) as Record<string, unknown> : { ...req.query } as Record<string, unknown>;
    if (!fromBody && typeof fields.extensions === 'string') {
      try {
        fields.extensions = JSON.parse(fields.extensions);
      } catch {
        return next(); // Apollo answers malformed extensions itself
      }
    }
    const query = documents.resolve(fields);
    if (query instanceof GraphQLError) {
      res.status(400).json({ errors: [{ message: query.message, extensions: { code: query.extensions.code } }] });
      return;
    }
    if (query !== undefined) {
      if (fromBody) {
        const body = req.body as Record<string, unknown>;
        body.query = query;
        delete body.documentId;
        if (body.extensions && typeof body.extensions === 'object') delete (body.extensions as Record<string, unknown>).persistedQuery;
      } else {
        const params = new URLSearchParams(req.url.split('?')[1] ?? '');
        params.set('query', query);
        params.delete('documentId');
        params.delete('extensions');
        req.url = `${req.path}?${params}`;
      }
    }
    next();
  };
}
