import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

export const GRAPHIQL_PATH = '/graphiql';

// Packages' "exports" hide their UMD builds from resolution; their folders are found by package.json.
const packageDir = (name: string) => dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
/** Files the page loads, all from node_modules or this folder: the explorer works offline (no CDN). */
const ASSETS: Record<string, string> = {
  'react.js': join(packageDir('react'), 'umd/react.production.min.js'),
  'react-dom.js': join(packageDir('react-dom'), 'umd/react-dom.production.min.js'),
  'graphiql.js': join(packageDir('graphiql'), 'graphiql.min.js'),
  'graphiql.css': join(packageDir('graphiql'), 'graphiql.min.css'),
  'start.js': fileURLToPath(new URL('./graphiql/start.js', import.meta.url)),
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Mutual Aid Hub — GraphiQL</title>
<link rel="stylesheet" href="${GRAPHIQL_PATH}/assets/graphiql.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading the explorer…</div>
<script src="${GRAPHIQL_PATH}/assets/react.js"></script>
<script src="${GRAPHIQL_PATH}/assets/react-dom.js"></script>
<script src="${GRAPHIQL_PATH}/assets/graphiql.js"></script>
<script src="${GRAPHIQL_PATH}/assets/start.js"></script>
</body>
</html>
`;

/** GraphiQL served by the gateway itself (outside production), against `/graphql`. */
export function graphiql(): express.Router {
  const router = express.Router();
  // Only our own scripts and styles run on the page (GraphiQL's editor needs inline styles and data: fonts).
  const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'";
  router.get('/', (_req, res) => {
    res.setHeader('content-security-policy', csp);
    res.type('html').send(PAGE);
  });
  router.get('/assets/:name', (req, res) => {
    // Own keys only: /assets/constructor must be a 404, not Object handed to sendFile.
    const file = Object.hasOwn(ASSETS, req.params.name) ? ASSETS[req.params.name] : undefined;
    if (!file) res.status(404).end();
    else res.sendFile(file, { maxAge: '1d' });
  });
  return router;
}
