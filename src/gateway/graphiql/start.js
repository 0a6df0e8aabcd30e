// Starts GraphiQL on /graphiql. A token in the URL fragment (#token=…, never sent to the server)
// fills the Authorization header and is then removed from the address bar.
const token = new URLSearchParams(location.hash.slice(1)).get('token');
if (token) history.replaceState(null, '', location.pathname + location.search);
const authorization = `Bearer ${token ?? '<paste a token from: hub token --role ADMIN>'}`;
const headers = JSON.stringify({ Authorization: authorization }, null, 2);
// The fetcher's own header also covers the schema introspection GraphiQL runs at start; the editor's headers win.
const fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', location.href).href, headers: token ? { Authorization: authorization } : {} });
const defaultQuery = `# Mutual Aid Hub. The schema is in the Docs panel; errors carry extensions.code.
query Viewer {
  viewer { subject role }
}
`;
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher, defaultQuery, defaultHeaders: headers, initialHeaders: headers, shouldPersistHeaders: false, defaultEditorToolsVisibility: 'headers' }),
);
