/* eslint-disable */
import * as types from './graphql.ts';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Viewer {\n    viewer { subject role unit { id name } member { id name } }\n  }\n": typeof types.ViewerDocument,
    "\n  query MembersPage($first: Int!, $after: String) {\n    members(first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      edges {\n        node {\n          id name idNumberMasked\n          unit { id name creditCode }\n          enrolments { edges { node { id planYear plan specialDisease enrolledOn contributionPaid } } }\n        }\n      }\n    }\n  }\n": typeof types.MembersPageDocument,
    "\n  query MemberClaims($memberId: ID!, $first: Int) {\n    member(id: $memberId) {\n      id name\n      claims(first: $first) {\n        edges {\n          node {\n            id status planYear settledAt personBurdenFen totalFen memberPaysFen reasons { code text { zh en } }\n            lines { programme amountFen explanation { zh en } status }\n          }\n        }\n      }\n    }\n  }\n": typeof types.MemberClaimsDocument,
    "\n  mutation ApproveClaim($claimId: ID!, $checkedTotalFen: Fen!, $note: String) {\n    approveClaim(input: { claimId: $claimId, checkedTotalFen: $checkedTotalFen, note: $note }) {\n      claim { id status decidedBy decidedAt }\n      userErrors { field code message }\n    }\n  }\n": typeof types.ApproveClaimDocument,
    "\n  mutation ApproveClaims($claimIds: [ID!]!, $checkedTotalsFen: [Fen!]!, $note: String) {\n    approveClaims(input: { claimIds: $claimIds, checkedTotalsFen: $checkedTotalsFen, note: $note }) {\n      results { claimId claim { id status decidedBy } userErrors { code message } }\n      userErrors { field code message }\n    }\n  }\n": typeof types.ApproveClaimsDocument,
    "\n  subscription ClaimStatusChanged($memberId: ID, $unitId: ID) {\n    claimStatusChanged(memberId: $memberId, unitId: $unitId) { status at claim { id status totalFen } }\n  }\n": typeof types.ClaimStatusChangedDocument,
};
const documents: Documents = {
    "\n  query Viewer {\n    viewer { subject role unit { id name } member { id name } }\n  }\n": types.ViewerDocument,
    "\n  query MembersPage($first: Int!, $after: String) {\n    members(first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      edges {\n        node {\n          id name idNumberMasked\n          unit { id name creditCode }\n          enrolments { edges { node { id planYear plan specialDisease enrolledOn contributionPaid } } }\n        }\n      }\n    }\n  }\n": types.MembersPageDocument,
    "\n  query MemberClaims($memberId: ID!, $first: Int) {\n    member(id: $memberId) {\n      id name\n      claims(first: $first) {\n        edges {\n          node {\n            id status planYear settledAt personBurdenFen totalFen memberPaysFen reasons { code text { zh en } }\n            lines { programme amountFen explanation { zh en } status }\n          }\n        }\n      }\n    }\n  }\n": types.MemberClaimsDocument,
    "\n  mutation ApproveClaim($claimId: ID!, $checkedTotalFen: Fen!, $note: String) {\n    approveClaim(input: { claimId: $claimId, checkedTotalFen: $checkedTotalFen, note: $note }) {\n      claim { id status decidedBy decidedAt }\n      userErrors { field code message }\n    }\n  }\n": types.ApproveClaimDocument,
    "\n  mutation ApproveClaims($claimIds: [ID!]!, $checkedTotalsFen: [Fen!]!, $note: String) {\n    approveClaims(input: { claimIds: $claimIds, checkedTotalsFen: $checkedTotalsFen, note: $note }) {\n      results { claimId claim { id status decidedBy } userErrors { code message } }\n      userErrors { field code message }\n    }\n  }\n": types.ApproveClaimsDocument,
    "\n  subscription ClaimStatusChanged($memberId: ID, $unitId: ID) {\n    claimStatusChanged(memberId: $memberId, unitId: $unitId) { status at claim { id status totalFen } }\n  }\n": types.ClaimStatusChangedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    viewer { subject role unit { id name } member { id name } }\n  }\n"): (typeof documents)["\n  query Viewer {\n    viewer { subject role unit { id name } member { id name } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MembersPage($first: Int!, $after: String) {\n    members(first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      edges {\n        node {\n          id name idNumberMasked\n          unit { id name creditCode }\n          enrolments { edges { node { id planYear plan specialDisease enrolledOn contributionPaid } } }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query MembersPage($first: Int!, $after: String) {\n    members(first: $first, after: $after) {\n      totalCount\n      pageInfo { hasNextPage endCursor }\n      edges {\n        node {\n          id name idNumberMasked\n          unit { id name creditCode }\n          enrolments { edges { node { id planYear plan specialDisease enrolledOn contributionPaid } } }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MemberClaims($memberId: ID!, $first: Int) {\n    member(id: $memberId) {\n      id name\n      claims(first: $first) {\n        edges {\n          node {\n            id status planYear settledAt personBurdenFen totalFen memberPaysFen reasons { code text { zh en } }\n            lines { programme amountFen explanation { zh en } status }\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query MemberClaims($memberId: ID!, $first: Int) {\n    member(id: $memberId) {\n      id name\n      claims(first: $first) {\n        edges {\n          node {\n            id status planYear settledAt personBurdenFen totalFen memberPaysFen reasons { code text { zh en } }\n            lines { programme amountFen explanation { zh en } status }\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApproveClaim($claimId: ID!, $checkedTotalFen: Fen!, $note: String) {\n    approveClaim(input: { claimId: $claimId, checkedTotalFen: $checkedTotalFen, note: $note }) {\n      claim { id status decidedBy decidedAt }\n      userErrors { field code message }\n    }\n  }\n"): (typeof documents)["\n  mutation ApproveClaim($claimId: ID!, $checkedTotalFen: Fen!, $note: String) {\n    approveClaim(input: { claimId: $claimId, checkedTotalFen: $checkedTotalFen, note: $note }) {\n      claim { id status decidedBy decidedAt }\n      userErrors { field code message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApproveClaims($claimIds: [ID!]!, $checkedTotalsFen: [Fen!]!, $note: String) {\n    approveClaims(input: { claimIds: $claimIds, checkedTotalsFen: $checkedTotalsFen, note: $note }) {\n      results { claimId claim { id status decidedBy } userErrors { code message } }\n      userErrors { field code message }\n    }\n  }\n"): (typeof documents)["\n  mutation ApproveClaims($claimIds: [ID!]!, $checkedTotalsFen: [Fen!]!, $note: String) {\n    approveClaims(input: { claimIds: $claimIds, checkedTotalsFen: $checkedTotalsFen, note: $note }) {\n      results { claimId claim { id status decidedBy } userErrors { code message } }\n      userErrors { field code message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ClaimStatusChanged($memberId: ID, $unitId: ID) {\n    claimStatusChanged(memberId: $memberId, unitId: $unitId) { status at claim { id status totalFen } }\n  }\n"): (typeof documents)["\n  subscription ClaimStatusChanged($memberId: ID, $unitId: ID) {\n    claimStatusChanged(memberId: $memberId, unitId: $unitId) { status at claim { id status totalFen } }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;