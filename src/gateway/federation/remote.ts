import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Context } from '../context.ts';

/**
 * Gateway mode: @apollo/gateway plans each operation over subgraphs served elsewhere (`hub serve
 * --subgraph NAME`, another organisation's own). The supergraph is a composed one (the committed
 * schema/published/supergraph.graphql, or one composed with other subgraphs); `urls` says where each
 * subgraph listens, by name, overriding the supergraph's. The caller's own `Authorization` header is
 * sent to every subgraph, which checks it again: a subgraph trusts no gateway, and shows the caller
 * nothing it would not show them directly.
 */
export function remoteGateway({ supergraphSdl, urls }: { supergraphSdl: string; urls: Record<string, string> }): ApolloGateway {
  return new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) => {
      const target = urls[name] ?? url;
      // The hub's committed supergraph names no real address (`http://<name>.invalid/graphql`).
      if (!target || new URL(target).hostname.endsWith('.invalid')) throw new Error(`no URL for subgraph ${name}: give one (name=url)`);
      return new CallerAuthorization({ url: target });
    },
  });
}

class CallerAuthorization extends RemoteGraphQLDataSource<Context> {
  override willSendRequest(options: GraphQLDataSourceProcessOptions<Context>): void {
    const authorization = 'incomingRequestContext' in options ? options.incomingRequestContext.request.http?.headers.get('authorization') : undefined;
    if (authorization) options.request.http?.headers.set('authorization', authorization);
  }
}

/** `name=url,name=url` (SUBGRAPH_URLS, `--subgraph-urls`) as a map; throws naming a malformed entry. */
export function parseSubgraphUrls(list: string): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const entry of list.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([A-Za-z_][\w-]*)=(https?:\/\/\S+)$/.exec(entry);
    if (!match) throw new Error(`not name=url: ${entry}`);
    urls[match[1]!] = match[2]!;
  }
  return urls;
}
